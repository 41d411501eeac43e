"""Send-rate limits: one for the whole installation and one per recipient domain, shared by
every worker process through Redis (GCRA, one atomic script, Redis's own clock), or kept in
process when there is no Redis. While Redis is unreachable each process falls back to its own
bucket at the full rate, so a Redis outage never stops sending."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from service.config import Settings

log = logging.getLogger("paperpost.ratelimit")

# KEYS[1] bucket; ARGV[1] microseconds per message; ARGV[2] burst in microseconds.
# Returns 0 to go now, else microseconds to wait before asking again.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then return wait end
local ttl = math.ceil((tat + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], tat + interval, 'PX', ttl)
return 0
"""


class RateLimiter(Protocol):
    async def wait(self, domain: str) -> None: ...

    async def close(self) -> None:
        """Release what is bound to the running event loop; ``wait`` may be called again,
        from another loop."""


class NoLimit:
    async def wait(self, domain: str) -> None:
        return None

    async def close(self) -> None:
        return None


class LocalBuckets:
    """GCRA in process: ``take`` returns the seconds to wait (0 = go)."""

    def __init__(self, burst: float = 1.0) -> None:
        self._tat: dict[str, float] = {}
        self._burst = burst

    def take(self, key: str, rate: float) -> float:
        now = time.monotonic()
        interval = 1.0 / rate
        tat = max(self._tat.get(key, now), now)
        wait = tat - self._burst * interval - now
        if wait > 0:
            return wait
        self._tat[key] = tat + interval
        return 0.0


class Limits:
    """Which buckets a message to ``domain`` must pass, and at what rate."""

    def __init__(self, settings: Settings) -> None:
        self.total = settings.rate_limit_per_second
        self.per_domain = settings.domain_rate_limit_per_second
        self.domains = {k.lower(): v for k, v in settings.domain_rate_limits.items()}

    def buckets(self, domain: str) -> list[tuple[str, float]]:
        out = [("total", self.total)] if self.total > 0 else []
        rate = self.domains.get(domain.lower(), self.per_domain)
        if rate > 0:
            out.append((f"domain:{domain.lower()}", rate))
        return out

    @property
    def any(self) -> bool:
        return self.total > 0 or self.per_domain > 0 or bool(self.domains)


class LocalLimiter:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._buckets = LocalBuckets()

    async def wait(self, domain: str) -> None:
        for key, rate in self._limits.buckets(domain):
            while (delay := self._buckets.take(key, rate)) > 0:
                await asyncio.sleep(delay)

    async def close(self) -> None:
        return None


class RedisLimiter:
    """Shared across processes and machines; keys live under ``paperpost:rate:``."""

    def __init__(self, url: str, limits: Limits, prefix: str = "paperpost:rate:") -> None:
        from redis.asyncio import Redis

        self._url = url
        self._redis: Any = None
        self._redis_cls = Redis
        self._limits = limits
        self._prefix = prefix
        self._fallback = LocalLimiter(limits)

    async def wait(self, domain: str) -> None:
        for key, rate in self._limits.buckets(domain):
            interval = int(1_000_000 / rate)
            while True:
                try:
                    if self._redis is None:
                        self._redis = self._redis_cls.from_url(self._url, socket_timeout=1)
                    waited = int(await self._redis.eval(GCRA, 1, self._prefix + key, interval, 0))
                except Exception as exc:  # noqa: BLE001 - any Redis failure: limit locally
                    log.warning("rate limit store unavailable (%s); limiting in process", exc)
                    await self.close()
                    await self._fallback.wait(domain)
                    return
                if waited <= 0:
                    break
                await asyncio.sleep(waited / 1_000_000)

    async def close(self) -> None:
        """Close the client and its connections; the next ``wait`` opens a new one."""
        client, self._redis = self._redis, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()


def make_limiter(settings: Settings) -> RateLimiter:
    limits = Limits(settings)
    if not limits.any:
        return NoLimit()
    url = settings.redis_url or (
        settings.broker_url if settings.broker_url.startswith(("redis://", "rediss://")) else None
    )
    return RedisLimiter(url, limits) if url else LocalLimiter(limits)
