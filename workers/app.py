"""The Celery app. JSON only, late acks, reject on worker loss, prefetch 1: the outbox in the
database carries correctness, the broker only carries ids (RELIABILITY.md 1.4 and 3.8)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab

from service.config import ConfigError, Settings

# Production values; every one of them comes from Settings (PAPERPOST_TIMING_PROFILE=scaled
# shrinks them for the fault tests, same ratios). No ETA or countdown may exceed a quarter of the
# visibility timeout: Redis redelivers such tasks again and again (celery#2481, kombu#337).
MAX_COUNTDOWN_FRACTION = 0.25
QUEUE = "celery"


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_default_queue": QUEUE,
        "worker_soft_shutdown_timeout": settings.task_soft_time_limit,
        "broker_transport_options": transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "beat_schedule": beat_schedule(settings),
        **beat_config(settings),
    }


def beat_config(settings: Settings) -> dict[str, Any]:
    """RedBeat keeps the schedule and a lock in Redis, so a second beat waits instead of
    publishing every entry twice; it takes over within the lock timeout when the first dies."""
    if settings.beat_scheduler != "redbeat":
        return {}
    redis_url = settings.redis_url or settings.broker_url
    return {
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "redbeat_redis_url": redis_url,
        "redbeat_key_prefix": "paperpost:redbeat",
        "redbeat_lock_timeout": int(settings.redbeat_lock_timeout),
        "beat_max_loop_interval": max(1, int(settings.redbeat_lock_timeout / 5)),
    }


def transport_options(settings: Settings) -> dict[str, Any]:
    """The visibility timeout and socket timeouts belong to the Redis transport; kombu's
    SQLAlchemy transport (the embedded default) hands its options to ``create_engine``, which
    refuses them."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return {}
    return {
        "visibility_timeout": settings.visibility_timeout,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    plan = timedelta(seconds=settings.plan_interval_seconds)
    sweep = timedelta(seconds=settings.sweep_interval_seconds)
    return {
        **ingest_schedule(settings),
        "match": {"task": "paperpost.match_new_papers", "schedule": timedelta(minutes=5)},
        "plan": {"task": "paperpost.plan_editions", "schedule": plan},
        "sweep": {"task": "paperpost.sweep_due", "schedule": sweep},
        "prune": {"task": "paperpost.prune", "schedule": timedelta(hours=6)},
        "watch": {"task": "paperpost.check_delivery_rates", "schedule": timedelta(minutes=15)},
        **bounce_schedule(settings),
    }


def bounce_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Read the bounce mailbox every five minutes when one is configured."""
    if not settings.bounce_mailbox:
        return {}
    return {"bounces": {"task": "paperpost.process_bounces", "schedule": timedelta(minutes=5)}}


def ingest_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """One entry per source switched on (cron lines in UTC), and the daily no-new-papers check."""
    crons = {"hf": settings.hf_schedule, "rss": settings.rss_schedule,
             "arxiv": settings.arxiv_schedule, "files": settings.files_schedule}  # fmt: skip
    entries = {
        f"ingest-{source}": {
            "task": "paperpost.ingest_source",
            "schedule": cron(crons[source], f"PAPERPOST_{source.upper()}_SCHEDULE"),
            "args": [source],
        }
        for source in settings.ingest_sources
        if source in crons
    }
    entries["ingest-check"] = {
        "task": "paperpost.check_new_papers",
        "schedule": cron(settings.ingest_check_schedule, "PAPERPOST_INGEST_CHECK_SCHEDULE"),
    }
    return entries


def cron(line: str, name: str) -> crontab:
    """``minute hour day-of-month month day-of-week``, as in crontab(5)."""
    fields = line.split()
    if len(fields) != 5:
        raise ConfigError(f"{name}={line!r}: a cron line has 5 fields (minute hour day month wday)")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:  # Celery's positional order is not cron's: name every field
        return crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                       month_of_year=month_of_year, day_of_week=day_of_week)  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"{name}={line!r}: {exc}") from exc


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("paperpost")
    app.conf.update(celery_config(settings))
    app.conf.include = ["workers.tasks"]
    return app


app = create_app()

from workers import observability  # noqa: E402, F401  (logging, metrics and task hooks)
