"""Thin tasks: each builds its arguments from Settings and calls one pipeline function.
Only ids cross the broker; digests are enqueued after the plan commits."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from functools import cache

from celery.signals import worker_process_shutdown
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.ingest.http import Fetcher, policy_for
from service.send.mailer import SmtpMailer
from service.send.ratelimit import RateLimiter, make_limiter
from service.store.db import make_engine, make_sessionmaker
from workers.app import QUEUE, app

log = logging.getLogger("paperpost.tasks")


@cache
def _settings() -> Settings:
    return Settings()


@cache
def _factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(_settings().database_url))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@cache
def _mailer() -> SmtpMailer:
    """One SMTP pool per worker process, kept open across batches."""
    return SmtpMailer(_settings())


@cache
def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


@cache
def _limiter() -> RateLimiter:
    return make_limiter(_settings())


@worker_process_shutdown.connect
def _close_mailer(**_: object) -> None:
    if _mailer.cache_info().currsize:
        _loop().run_until_complete(_mailer().close())
    if _limiter.cache_info().currsize:
        _loop().run_until_complete(_limiter().close())


def enqueue(ids: list[int]) -> None:
    """Called after the commit that made the rows due: only ids cross the broker, one task per
    batch (Celery costs milliseconds per task)."""
    size = _settings().batch_size
    for start in range(0, len(ids), size):
        deliver_batch.delay(ids[start : start + size])


def queue_depth() -> int | None:
    """Messages waiting in the delivery queue, or None when the broker cannot say."""
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            declared = conn.default_channel.queue_declare(queue=QUEUE, passive=True)
            return int(declared.message_count)
    except Exception as exc:  # noqa: BLE001 - any broker failure means "unknown"
        log.warning("queue depth unavailable: %s", exc)
        return None


# An ingest waits for slow sources (arXiv: 3 s between requests); it must still end well
# within the visibility timeout, or the broker would hand it to a second worker.
INGEST_TIME_LIMIT = min(900.0, _settings().visibility_timeout / 2)


@app.task(name="paperpost.ingest_source", time_limit=INGEST_TIME_LIMIT,
          soft_time_limit=INGEST_TIME_LIMIT * 0.9)  # fmt: skip
def ingest_source(source: str) -> None:
    """One source, with its arXiv lookups (HF) in the same task, before the match job runs."""
    with Fetcher(policy_for(_settings())) as fetcher:
        pipeline.ingest_source(_factory(), _settings(), fetcher, _now, source)


@app.task(name="paperpost.ingest_configured", time_limit=INGEST_TIME_LIMIT,
          soft_time_limit=INGEST_TIME_LIMIT * 0.9)  # fmt: skip
def ingest_configured() -> None:
    """Every configured source now, one after the other (``paperpost ingest run``)."""
    with Fetcher(policy_for(_settings())) as fetcher:
        pipeline.ingest_configured(_factory(), _settings(), fetcher, _now)


@app.task(name="paperpost.check_new_papers")
def check_new_papers() -> None:
    pipeline.check_new_papers(_factory(), _settings(), _now())


@app.task(name="paperpost.match_new_papers")
def match_new_papers() -> None:
    settings = _settings()
    pipeline.match_new_papers(_factory(), _now(), settings.match_window_days, settings=settings)


@app.task(name="paperpost.plan_editions")
def plan_editions() -> None:
    pipeline.plan_editions(_factory(), _settings(), _now(), on_page=enqueue)


@app.task(name="paperpost.sweep_due")
def sweep_due() -> None:
    """Re-enqueue what the broker may have lost. When the queue is empty (flushed, or its tasks
    died with a worker) every due row goes again at once; otherwise only rows no task carried
    within the visibility timeout. The claim makes an extra task harmless."""
    depth = queue_depth()
    stale = None if not depth else dt.timedelta(seconds=_settings().visibility_timeout)
    enqueue(pipeline.sweep_due(_factory(), _now(), stale_after=stale))


@app.task(name="paperpost.process_bounces")
def process_bounces() -> None:
    from service.track.mailbox import open_source

    mailbox = _settings().bounce_mailbox
    if mailbox:
        source = open_source(mailbox)
        try:
            pipeline.process_bounces(_factory(), _settings(), source, _now())
        finally:
            source.close()


@app.task(name="paperpost.deliver_batch", acks_late=True, reject_on_worker_lost=True)
def deliver_batch(ids: list[int]) -> None:
    pipeline.deliver_batch(
        _factory(), _settings(), _mailer(), ids, _now, loop=_loop(), limiter=_limiter()
    )


@app.task(name="paperpost.prune")
def prune() -> None:
    pipeline.prune(_factory(), _settings(), _now())


@app.task(name="paperpost.check_delivery_rates")
def check_delivery_rates() -> None:
    pipeline.check_delivery_rates(_factory(), _settings(), _now())
