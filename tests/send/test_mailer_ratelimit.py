"""Send-rate limits: the global and per-domain buckets, shared by separate limiters (as separate
worker processes would be) through a private redis-server, and kept in process without Redis."""

from __future__ import annotations

import asyncio
import time

from service.config import Settings
from service.send.ratelimit import Limits, LocalLimiter, NoLimit, RedisLimiter, make_limiter
from tests.servers import private_redis


def limited(settings: Settings, **rates: object) -> Settings:
    return settings.model_copy(update=rates)


async def drain(limiters: list, domains: list[str]) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    try:
        await asyncio.gather(*(lim.wait(d) for lim in limiters for d in domains))
    finally:
        for limiter in limiters:
            await limiter.close()
    return time.perf_counter() - started


def test_no_limit_when_unset(settings: Settings) -> None:
    assert isinstance(make_limiter(settings), NoLimit)
    assert isinstance(make_limiter(limited(settings, rate_limit_per_second=5.0)), LocalLimiter)


def test_local_limit_spaces_messages(settings: Settings) -> None:
    limiter = make_limiter(limited(settings, rate_limit_per_second=50.0))
    took = asyncio.run(drain([limiter], ["example.org"] * 21))
    assert took >= 20 / 50 * 0.9  # 21 messages at 50/s: the first goes at once


def test_per_domain_limit_only_slows_that_domain(settings: Settings) -> None:
    limits = Limits(limited(settings, domain_rate_limits={"slow.example": 10.0}))
    assert limits.buckets("fast.example") == []
    assert limits.buckets("SLOW.example") == [("domain:slow.example", 10.0)]


def test_redis_limit_is_shared_across_limiters(settings: Settings) -> None:
    with private_redis() as url:
        shared = limited(settings, redis_url=url, rate_limit_per_second=20.0)
        first, second = make_limiter(shared), make_limiter(shared)
        assert isinstance(first, RedisLimiter)
        took = asyncio.run(drain([first, second], ["example.org"] * 10))
    assert took >= 19 / 20 * 0.9  # 20 messages from two "processes" at 20/s together


def test_redis_down_falls_back_to_a_local_limit(settings: Settings) -> None:
    from tests.servers import free_port

    down = limited(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0",
                   rate_limit_per_second=50.0)  # fmt: skip
    took = asyncio.run(drain([make_limiter(down)], ["example.org"] * 11))
    assert took >= 10 / 50 * 0.9
