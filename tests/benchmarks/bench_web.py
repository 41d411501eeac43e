"""The web side under a single client: latency of the pages a subscriber's mail leads to, over
real HTTP against ``paperpost web`` (uvicorn, one process) on 127.0.0.1.

    .venv/bin/python -m tests.benchmarks.bench_web [--requests N] [--subscribers N]
        [--backend sqlite|postgresql] [--json]

- baseline: ``GET /static/paperpost.css`` (the server's floor: routing, middleware, a file);
- ``GET /unsubscribe/{token}``: verify the token, read the subscriber, render the page;
- one-click ``POST /unsubscribe/{token}`` (``List-Unsubscribe=One-Click``, urlencoded, from a
  client that sends no cookies), each for a different subscriber: the write and its commit are inside the timing,
  so the answer means "unsubscribed" (RELIABILITY.md U11, F19's p95 target of 500 ms);
- ``POST /`` subscribe with its CSRF token, each for a new address: the rate limit check, the
  pending subscriber and the outbox row, committed.

Each is reported as p50 and p95 in milliseconds and as the ratio of its p50 to the baseline's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from service.config import Settings
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Base, Subscriber
from service.track.events import SubscriberInput, add_subscriber
from service.track.tokens import Purpose, make_token
from tests.servers import free_port, throwaway_postgres
from tests.web.server import web_process

SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "postgresql":
        with throwaway_postgres() as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'bench.sqlite'}"


def seed(url: str, count: int) -> list[str]:
    """``count`` active subscribers; their unsubscribe tokens."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    now = dt.datetime.now(dt.UTC)
    with transaction(factory) as session:
        for n in range(count):
            add_subscriber(session, SubscriberInput(f"s{n}@example.org", ["diffusion"]), now,
                           "cli", True)  # fmt: skip
    with factory() as session:
        rows = session.execute(select(Subscriber.id, Subscriber.token_secret)).all()
    engine.dispose()
    return [make_token([SECRET], Purpose.unsubscribe, sid, secret) for sid, secret in rows]


def timed(count: int, call: Callable[[int], httpx.Response]) -> list[float]:
    out = []
    for n in range(count):
        started = time.perf_counter()
        response = call(n)
        out.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 400:
            raise SystemExit(f"request {n} failed: {response.status_code} {response.text[:200]}")
    return out


def summary(samples: list[float], floor: float) -> dict[str, float]:
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[18]
    return {
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "ratio_to_baseline": round(p50 / floor, 2),
    }


def run(requests: int, subscribers: int, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as url:
        tokens = seed(url, max(subscribers, requests))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url, secret_key=SECRET, mail_dir=Path(tmp) / "mail",
            public_base_url="http://127.0.0.1", subscribe_per_ip_hour=10 * requests,
        )  # fmt: skip
        with (
            web_process(settings, free_port(), Path(tmp)) as base,
            httpx.Client(base_url=base) as c,
        ):
            page = c.get("/")
            csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
            assert csrf is not None
            for _ in range(20):  # warm up
                c.get("/static/paperpost.css")
            floor = timed(requests, lambda n: c.get("/static/paperpost.css"))
            view = timed(requests, lambda n: c.get(f"/unsubscribe/{tokens[n]}"))
            with httpx.Client(base_url=base) as provider:  # its own client: no cookies
                one_click = timed(requests, lambda n: provider.post(
                    f"/unsubscribe/{tokens[n]}", content=b"List-Unsubscribe=One-Click",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}))  # fmt: skip
            subscribe = timed(requests, lambda n: c.post("/", data={
                "email": f"new{n}@example.org", "interests": "diffusion",
                "include_trending": "on", "csrf_token": csrf.group(1)}))  # fmt: skip
    base_p50 = statistics.median(floor)
    return {
        "parameters": {
            "requests": requests,
            "subscribers": max(subscribers, requests),
            "backend": backend,
        },
        "baseline GET /static/paperpost.css": summary(floor, base_p50),
        "GET /unsubscribe/{token}": summary(view, base_p50),
        "POST /unsubscribe/{token} one-click": summary(one_click, base_p50),
        "POST / subscribe": summary(subscribe, base_p50),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.requests, args.subscribers, args.backend)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"parameters: {result.pop('parameters')}")
    for name, figures in result.items():
        print(f"{name:58} p50 {figures['p50_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f} ms  "
              f"x{figures['ratio_to_baseline']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
