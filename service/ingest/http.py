"""The one way sources fetch bytes: httpx with explicit timeouts, a User-Agent naming paperpost,
retries with exponential backoff and jitter on connection errors, 429 and 5xx (honouring
``Retry-After``), a cap on body size and a polite minimum interval between requests per host
(arXiv asks for at most one request every 3 seconds)."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from service.config import Settings

log = logging.getLogger("paperpost.ingest.http")

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def user_agent(contact: str | None = None) -> str:
    try:
        version = metadata.version("paperpost")
    except metadata.PackageNotFoundError:
        version = "0"
    suffix = f"; mailto:{contact}" if contact else ""
    return f"paperpost/{version} (self-hosted research paper digest{suffix})"


@dataclass(frozen=True)
class HttpPolicy:
    timeout: float = 30.0  # per read/write; connect has its own
    connect_timeout: float = 10.0
    deadline: float = 120.0  # one attempt, headers to last byte (slow-drip servers)
    retries: int = 4  # attempts after the first
    backoff: float = 2.0  # first delay; doubles each retry, with jitter
    max_backoff: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After ends the run instead of waiting
    max_bytes: int = 64 * 2**20
    min_interval: Mapping[str, float] = field(default_factory=dict)  # host -> seconds
    user_agent: str = field(default_factory=user_agent)


def policy_for(settings: Settings) -> HttpPolicy:
    """The HTTP policy the settings describe; arXiv hosts get the arXiv interval."""
    intervals: dict[str, float] = {}
    for url, interval in (
        (settings.hf_base_url, settings.hf_min_interval),
        (settings.arxiv_api_url, settings.arxiv_min_interval),
        (settings.arxiv_rss_url, settings.arxiv_min_interval),
    ):
        host = urlsplit(url).hostname or ""
        intervals[host] = max(interval, intervals.get(host, 0.0))
    return HttpPolicy(
        timeout=settings.http_timeout,
        connect_timeout=min(10.0, settings.http_timeout),
        deadline=max(120.0, settings.http_timeout * 4),
        retries=settings.http_retries,
        backoff=settings.http_backoff,
        max_retry_after=settings.http_max_retry_after,
        min_interval=intervals,
        user_agent=settings.http_user_agent or user_agent(settings.admin_email),
    )


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: bytes
    content_type: str = ""


class FetchError(Exception):
    """The source could not be read. ``status`` and ``body`` are set for HTTP answers."""

    def __init__(self, message: str, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class _Retry(Exception):
    def __init__(self, message: str, wait: float | None = None, status: int | None = None):
        super().__init__(message)
        self.wait = wait
        self.status = status


class Pacer:
    """At most one request per ``interval`` seconds to each host, across threads."""

    def __init__(
        self,
        intervals: Mapping[str, float],
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._intervals = dict(intervals)
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self._monotonic = monotonic

    def wait(self, host: str) -> float:
        """Block until ``host`` may be asked again; returns the seconds waited."""
        interval = self._intervals.get(host, 0.0)
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + interval
        waited = start - now
        if waited > 0:
            self._sleep(waited)
        return waited


class Fetcher:
    """A reusable client; use as a context manager or call ``close()``."""

    def __init__(
        self,
        policy: HttpPolicy | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or HttpPolicy()
        self.pacer = Pacer(self.policy.min_interval, sleep)
        self._sleep = sleep
        self._rng = rng
        timeout = httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout)
        self._client = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": self.policy.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Fetched:
        """The body of a 2xx answer. Raises FetchError once retries are spent, at once for
        other 4xx answers (with their body, which may explain the refusal)."""
        host = urlsplit(url).hostname or ""
        for attempt in range(self.policy.retries + 1):
            self.pacer.wait(host)
            try:
                return self._attempt(url, params)
            except _Retry as retry:
                if attempt == self.policy.retries:
                    message = f"{_show(url)}: {retry} (gave up after {attempt + 1} tries)"
                    raise FetchError(message, retry.status) from retry
                delay = self._delay(url, attempt, retry)
                log.warning("%s: %s; retrying in %.1f s", _show(url), retry, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _attempt(self, url: str, params: Mapping[str, Any] | None) -> Fetched:
        started = time.monotonic()
        try:
            with self._client.stream("GET", url, params=params) as response:
                if response.status_code in RETRY_STATUS or response.status_code >= 500:
                    status = response.status_code
                    raise _Retry(f"HTTP {status}", _retry_after(response), status)
                body = self._read(url, response, started)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
            raise FetchError(f"{_show(url)}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__}: {exc})") from exc
        except httpx.HTTPError as exc:  # a body that does not decode, and the like
            raise FetchError(f"{_show(url)}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise FetchError(
                f"{_show(url)}: HTTP {response.status_code}", response.status_code, body
            )
        return Fetched(str(response.url), response.status_code, body, _content_type(response))

    def _read(self, url: str, response: httpx.Response, started: float) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{_show(url)}: {int(declared):,} bytes, over the {limit:,} limit")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(f"{_show(url)}: answer over the {limit:,} byte limit")
            if time.monotonic() - started > self.policy.deadline:
                raise _Retry(f"answer took longer than {self.policy.deadline:.0f} s")
            chunks.append(chunk)
        return b"".join(chunks)

    def _delay(self, url: str, attempt: int, retry: _Retry) -> float:
        if retry.wait is not None:
            if retry.wait > self.policy.max_retry_after:
                raise FetchError(
                    f"{_show(url)}: {retry}, asked to retry after {retry.wait:.0f} s "
                    f"(more than {self.policy.max_retry_after:.0f} s); try again later"
                )
            return retry.wait
        ceiling = min(self.policy.max_backoff, self.policy.backoff * 2.0**attempt)
        return ceiling / 2 + self._rng() * ceiling / 2


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, float((when - dt.datetime.now(dt.UTC)).total_seconds()))


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("Content-Type", "")).split(";")[0].strip().lower()


def _show(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
