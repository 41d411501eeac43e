"""The fetcher against a real HTTP server on 127.0.0.1: retries, Retry-After, timeouts,
dropped connections, size limits, politeness."""

from __future__ import annotations

import email.utils
import gzip
import itertools
import time

import pytest

from service.config import Settings
from service.ingest.http import Fetcher, FetchError, HttpPolicy, Pacer, policy_for
from tests.conftest import SAMPLES
from tests.ingest.httpserver import Reply, Server

FAST = HttpPolicy(timeout=0.5, connect_timeout=0.5, retries=2, backoff=0.01, max_backoff=0.05)
HF_BODY = (SAMPLES / "hf_daily_papers_2024-05-29.json").read_bytes()


def test_recorded_body_with_a_user_agent_naming_paperpost(server: Server) -> None:
    server.script("/api/daily_papers", Reply(200, HF_BODY, (("Content-Type", "application/json"),)))
    with Fetcher(FAST) as fetcher:
        got = fetcher.get(f"{server.url}/api/daily_papers", {"date": "2024-05-29"})
    assert got.body == HF_BODY and got.status == 200 and got.content_type == "application/json"
    (request,) = server.requests
    assert request.query == {"date": "2024-05-29"}
    assert request.headers["User-Agent"].startswith("paperpost/")


@pytest.mark.parametrize(
    "first",
    [
        Reply(500, b"oops"),
        Reply(503, b"busy"),
        Reply(502),
        Reply(429, b"slow down"),
        Reply(drop=True),
    ],
    ids=["500", "503", "502", "429-without-retry-after", "dropped-connection"],
)
def test_transient_failures_are_retried(server: Server, first: Reply) -> None:
    server.script("/feed", first, first, Reply(200, b"<ok/>"))
    with Fetcher(FAST) as fetcher:
        assert fetcher.get(f"{server.url}/feed").body == b"<ok/>"
    assert len(server.requests) == 3


def test_gives_up_after_the_retries_and_says_why(server: Server) -> None:
    server.script("/feed", Reply(500, b"down"))
    with Fetcher(FAST) as fetcher, pytest.raises(FetchError, match=r"HTTP 500.*gave up after 3"):
        fetcher.get(f"{server.url}/feed")
    assert len(server.requests) == 3


def test_retry_after_seconds_is_honoured(server: Server) -> None:
    server.script("/feed", Reply(429, headers=(("Retry-After", "1"),)), Reply(200, b"fine"))
    with Fetcher(FAST) as fetcher:
        assert fetcher.get(f"{server.url}/feed").body == b"fine"
    first, second = server.requests
    assert second.at - first.at >= 0.95


def test_retry_after_http_date_is_honoured(server: Server) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    server.script("/feed", Reply(503, headers=(("Retry-After", when),)), Reply(200, b"fine"))
    with Fetcher(FAST) as fetcher:
        assert fetcher.get(f"{server.url}/feed").body == b"fine"
    first, second = server.requests
    assert second.at - first.at >= 0.5  # the date has a one-second resolution


def test_a_retry_after_beyond_the_limit_ends_the_run_at_once(server: Server) -> None:
    server.script("/feed", Reply(429, headers=(("Retry-After", "3600"),)))
    policy = HttpPolicy(timeout=0.5, retries=3, backoff=0.01, max_retry_after=60)
    with Fetcher(policy) as fetcher, pytest.raises(FetchError, match="retry after 3600 s"):
        fetcher.get(f"{server.url}/feed")
    assert len(server.requests) == 1


def test_a_slow_answer_times_out_and_is_retried(server: Server) -> None:
    server.script("/slow", Reply(200, b"late", delay=1.0), Reply(200, b"quick"))
    with Fetcher(FAST) as fetcher:
        started = time.monotonic()
        assert fetcher.get(f"{server.url}/slow").body == b"quick"
    assert time.monotonic() - started < 1.0  # did not wait for the slow one
    assert len(server.requests) == 2


def test_always_slow_is_a_fetch_error(server: Server) -> None:
    server.script("/slow", Reply(200, b"late", delay=0.8))
    policy = HttpPolicy(timeout=0.3, retries=1, backoff=0.01)
    with Fetcher(policy) as fetcher, pytest.raises(FetchError, match="timed out"):
        fetcher.get(f"{server.url}/slow")


def test_a_trickling_answer_is_cut_at_the_deadline(server: Server) -> None:
    server.script("/drip", Reply(200, b"x" * 64 * 40, drip=0.05))
    policy = HttpPolicy(timeout=1, deadline=0.5, retries=0)
    with Fetcher(policy) as fetcher, pytest.raises(FetchError, match="longer than"):
        fetcher.get(f"{server.url}/drip")


def test_client_errors_are_not_retried_and_keep_their_body(server: Server) -> None:
    server.script("/api/query", Reply(400, b"<feed>bad id</feed>"))
    with Fetcher(FAST) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(f"{server.url}/api/query", {"id_list": "abc"})
    assert caught.value.status == 400 and caught.value.body == b"<feed>bad id</feed>"
    assert len(server.requests) == 1


def test_an_oversized_answer_is_refused(server: Server) -> None:
    server.script("/big", Reply(200, b"x" * 5_000))
    policy = HttpPolicy(timeout=1, retries=0, max_bytes=1_000)
    with Fetcher(policy) as fetcher, pytest.raises(FetchError, match="over the 1,000"):
        fetcher.get(f"{server.url}/big")


def test_gzip_answers_are_decoded_and_limited_after_decoding(server: Server) -> None:
    bomb = gzip.compress(b"0" * 200_000)
    server.script("/gz", Reply(200, bomb, (("Content-Encoding", "gzip"),)))
    with Fetcher(HttpPolicy(timeout=1, retries=0)) as fetcher:
        assert fetcher.get(f"{server.url}/gz").body == b"0" * 200_000
    small = HttpPolicy(timeout=1, retries=0, max_bytes=50_000)
    with Fetcher(small) as fetcher, pytest.raises(FetchError, match="byte limit"):
        fetcher.get(f"{server.url}/gz")


def test_a_body_that_does_not_decode_is_a_fetch_error(server: Server) -> None:
    server.script("/gz", Reply(200, b"not gzip at all", (("Content-Encoding", "gzip"),)))
    with Fetcher(FAST) as fetcher, pytest.raises(FetchError, match="DecodingError"):
        fetcher.get(f"{server.url}/gz")
    assert len(server.requests) == 1


def test_nothing_listening_is_a_fetch_error() -> None:
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/feed"
    with Fetcher(FAST) as fetcher, pytest.raises(FetchError, match="connection failed"):
        fetcher.get(url)


def test_requests_to_one_host_are_spaced(server: Server) -> None:
    server.script("/feed", Reply(200, b"ok"))
    policy = HttpPolicy(timeout=1, min_interval={"127.0.0.1": 0.3})
    with Fetcher(policy) as fetcher:
        for _ in range(3):
            fetcher.get(f"{server.url}/feed")
    times = [r.at for r in server.requests]
    assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))


def test_backoff_doubles_with_jitter(server: Server) -> None:
    server.script("/feed", Reply(503), Reply(503), Reply(503), Reply(200, b"ok"))
    slept: list[float] = []
    policy = HttpPolicy(timeout=1, retries=3, backoff=1.0, max_backoff=3.0)
    with Fetcher(policy, sleep=slept.append, rng=lambda: 1.0) as fetcher:
        fetcher.get(f"{server.url}/feed")
    assert slept == [1.0, 2.0, 3.0]  # doubling, capped; rng=1 is the top of each jitter range
    slept.clear()
    server.script("/feed", Reply(503), Reply(200, b"ok"))
    with Fetcher(policy, sleep=slept.append, rng=lambda: 0.0) as fetcher:
        fetcher.get(f"{server.url}/feed")
    assert slept == [0.5]  # rng=0 is the bottom: half the delay


def test_pacer_is_per_host() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer({"export.arxiv.org": 3.0}, sleep, lambda: clock[0])
    assert pacer.wait("export.arxiv.org") == 0
    assert pacer.wait("huggingface.co") == 0
    assert pacer.wait("export.arxiv.org") == 3.0
    clock[0] += 10
    assert pacer.wait("export.arxiv.org") == 0
    assert slept == [3.0]


def test_policy_from_settings(settings: Settings) -> None:
    tuned = settings.model_copy(update={"admin_email": "ops@example.org", "http_retries": 2})
    policy = policy_for(tuned)
    assert policy.min_interval["export.arxiv.org"] == 3.0
    assert policy.min_interval["rss.arxiv.org"] == 3.0
    assert policy.min_interval["huggingface.co"] == 1.0
    assert policy.retries == 2
    assert "paperpost/" in policy.user_agent and "mailto:ops@example.org" in policy.user_agent
