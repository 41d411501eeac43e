"""Rate limits for the public forms (RELIABILITY.md W6): a sliding window per rule and subject
(a client address or a hashed mail address), exact, in Redis when configured and in the
``rate_limits`` table otherwise. While Redis is unreachable the database takes over, so a
Redis outage never turns into an error page."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.config import Settings
from service.store.models import RateLimit
from service.store.sql import dialect_name
from service.track.addresses import email_hash

log = logging.getLogger("paperpost.ratelimit")
PRUNE_AFTER = dt.timedelta(days=2)  # longer than any window


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    limit: int
    window: dt.timedelta


@dataclass(frozen=True, slots=True)
class Rules:
    subscribe_ip: Rule  # form posts that send a mail, per client
    confirm_address: Rule  # subscribe-form mails to one address
    link_address: Rule  # "mail me a fresh link" to one address
    preview_ip: Rule  # interest previews, per client

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
        return cls(
            subscribe_ip=Rule("subscribe-ip", settings.subscribe_per_ip_hour, hour),
            confirm_address=Rule("confirm-to", settings.confirm_mails_per_address_day, day),
            link_address=Rule("link-to", settings.link_mails_per_address_day, day),
            preview_ip=Rule("preview-ip", settings.previews_per_ip_minute, dt.timedelta(minutes=1)),
        )


class Limiter(Protocol):
    def hit(self, session: Session, rule: Rule, subject: str, now: dt.datetime) -> bool:
        """Count one attempt; False (and nothing counted) when the window is full."""
        ...


def client_subject(ip: str | None) -> str:
    """IPv6 clients are limited per /64, the block one customer usually gets."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def address_subject(email: str) -> str:
    return email_hash(email)[:32]  # no mail address in the counters


class DatabaseLimiter:
    """Rows of (key, time of the hit, hits) in the caller's transaction. PostgreSQL takes a
    transaction-level advisory lock per key; SQLite transactions are serial already."""

    def hit(self, session: Session, rule: Rule, subject: str, now: dt.datetime) -> bool:
        key = f"{rule.name}:{subject}"[:255]
        start = now - rule.window
        if dialect_name(session) == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )
        session.execute(
            delete(RateLimit).where(RateLimit.key == key, RateLimit.window_start <= start)
        )
        used = session.scalar(
            select(func.coalesce(func.sum(RateLimit.hits), 0)).where(RateLimit.key == key)
        )
        if int(used or 0) >= rule.limit:
            return False
        insert = (postgresql if dialect_name(session) == "postgresql" else sqlite).insert
        stmt = insert(RateLimit).values(key=key, window_start=now, hits=1)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[RateLimit.key, RateLimit.window_start],
                set_={"hits": RateLimit.hits + 1},
            )
        )
        if random.random() < 0.01:
            prune(session, now)
        return True


def prune(session: Session, now: dt.datetime) -> int:
    """Forget counters older than any window (keys that are never hit again)."""
    result = session.execute(delete(RateLimit).where(RateLimit.window_start < now - PRUNE_AFTER))
    return int(getattr(result, "rowcount", 0) or 0)


# KEYS[1] the counter; ARGV: now (ms), window (ms), limit, a unique member for this hit.
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisLimiter:
    """One atomic Lua script per hit. When Redis fails, the database counts instead for
    ``retry_after`` seconds before Redis is tried again."""

    def __init__(
        self, client: Any, fallback: Limiter, retry_after: float = 30.0, prefix: str = "paperpost"
    ) -> None:
        self.client = client
        self.fallback = fallback
        self.retry_after = retry_after
        self.prefix = prefix
        self.down_until = 0.0
        self._script = client.register_script(_SLIDING_WINDOW)

    @classmethod
    def from_url(cls, url: str, fallback: Limiter) -> RedisLimiter:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        return cls(client, fallback)

    def hit(self, session: Session, rule: Rule, subject: str, now: dt.datetime) -> bool:
        if time.monotonic() < self.down_until:
            return self.fallback.hit(session, rule, subject, now)
        from redis.exceptions import RedisError

        millis = int(now.timestamp() * 1000)
        window = int(rule.window.total_seconds() * 1000)
        try:
            allowed = self._script(
                keys=[f"{self.prefix}:rl:{rule.name}:{subject}"],
                args=[millis, window, rule.limit, f"{millis}:{uuid.uuid4().hex[:8]}"],
            )
        except (RedisError, OSError) as exc:
            log.warning("rate limits: Redis unavailable (%s); counting in the database", exc)
            self.down_until = time.monotonic() + self.retry_after
            return self.fallback.hit(session, rule, subject, now)
        return bool(allowed)


def make_limiter(settings: Settings) -> Limiter:
    database = DatabaseLimiter()
    if settings.redis_url:
        return RedisLimiter.from_url(settings.redis_url, database)
    return database
