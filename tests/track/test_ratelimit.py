"""Rate limits: an exact sliding window in the database and in Redis, and the database taking
over while Redis is down (RELIABILITY.md W6)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.store.db import transaction
from service.store.models import RateLimit
from service.track.ratelimit import (
    DatabaseLimiter,
    Limiter,
    RedisLimiter,
    Rule,
    address_subject,
    client_subject,
    prune,
)
from tests.servers import free_port, private_redis

T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
DAY = Rule("confirm-to", 3, dt.timedelta(days=1))


def hits(
    limiter: Limiter, session: Session, offsets_h: list[float], rule: Rule = DAY
) -> list[bool]:
    return [limiter.hit(session, rule, "subject", T0 + dt.timedelta(hours=h)) for h in offsets_h]


@pytest.fixture
def redis_url() -> Iterator[str]:
    with private_redis() as url:
        yield url


def redis_limiter(url: str) -> RedisLimiter:
    return RedisLimiter.from_url(url, DatabaseLimiter())


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_sliding_window_is_exact(
    session: Session, kind: str, request: pytest.FixtureRequest
) -> None:
    limiter: Limiter = (
        DatabaseLimiter()
        if kind == "database"
        else redis_limiter(request.getfixturevalue("redis_url"))
    )
    # three in a day pass; the fourth and fifth do not (and are not counted); once the first
    # hit is 24 h old, exactly one more passes.
    assert hits(limiter, session, [0, 1, 2, 3, 23.9]) == [True, True, True, False, False]
    assert hits(limiter, session, [24.01, 24.02, 25.5]) == [True, False, True]


def test_subjects_and_rules_are_separate(session: Session) -> None:
    limiter = DatabaseLimiter()
    other = Rule("subscribe-ip", 3, dt.timedelta(hours=1))
    for _ in range(3):
        assert limiter.hit(session, DAY, "a", T0)
    assert not limiter.hit(session, DAY, "a", T0)
    assert limiter.hit(session, DAY, "b", T0)
    assert limiter.hit(session, other, "a", T0)


def test_counters_hold_no_address() -> None:
    assert "@" not in address_subject("ada@example.org")
    assert address_subject("Ada@Example.org") == address_subject("ada@example.org")
    assert client_subject("2001:db8::1") == client_subject("2001:db8::ffff") == "2001:db8::/64"
    assert client_subject("192.0.2.7") == "192.0.2.7"
    assert client_subject(None) == client_subject("not an ip") == "unknown"


def test_old_counters_are_pruned(session: Session) -> None:
    limiter = DatabaseLimiter()
    limiter.hit(session, DAY, "old", T0)
    limiter.hit(session, DAY, "new", T0 + dt.timedelta(days=3))
    assert prune(session, T0 + dt.timedelta(days=3)) == 1
    assert session.scalar(select(func.count()).select_from(RateLimit)) == 1


def test_redis_down_falls_back_to_the_database(session: Session) -> None:
    limiter = RedisLimiter.from_url(f"redis://127.0.0.1:{free_port()}/0", DatabaseLimiter())
    started = time.monotonic()
    assert hits(limiter, session, [0, 0.1, 0.2, 0.3]) == [True, True, True, False]
    assert time.monotonic() - started < 3  # one failed connect, then straight to the database
    assert session.scalar(select(func.sum(RateLimit.hits))) == 3


def test_redis_stopping_mid_way(session: Session) -> None:
    with private_redis() as url:
        limiter = redis_limiter(url)
        assert hits(limiter, session, [0, 0.1]) == [True, True]
    # Redis is gone: the database counts from here on, and nothing raises.
    assert hits(limiter, session, [0.2, 0.3, 0.4, 0.5]) == [True, True, True, False]


def test_concurrent_hits_never_exceed_the_limit(factory: sessionmaker[Session]) -> None:
    """Ten requests for one address at once, each in its own transaction: exactly three pass
    (PostgreSQL: the advisory lock; SQLite: serial write transactions)."""
    limiter = DatabaseLimiter()
    barrier = threading.Barrier(10)
    results: list[bool] = []

    def one() -> None:
        barrier.wait()
        with transaction(factory) as session:
            allowed = limiter.hit(session, DAY, "busy", T0)
            time.sleep(0.02)  # hold the transaction open, as a request would
        results.append(allowed)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] * 7 + [True] * 3
