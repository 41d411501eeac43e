"""The Celery app. JSON only, late acks, reject on worker loss, prefetch 1: the outbox in the
database carries correctness, the broker only carries ids (RELIABILITY.md 1.4 and 3.8)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery

from service.config import Settings

TASK_TIME_LIMIT = 120
TASK_SOFT_TIME_LIMIT = 90
VISIBILITY_TIMEOUT = 1800


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
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT},
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "beat_schedule": beat_schedule(),
    }


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        "ingest": {"task": "paperpost.ingest_configured", "schedule": timedelta(minutes=30)},
        "match": {"task": "paperpost.match_new_papers", "schedule": timedelta(minutes=5)},
        "plan": {"task": "paperpost.plan_editions", "schedule": timedelta(minutes=5)},
        "sweep": {"task": "paperpost.sweep_due", "schedule": timedelta(minutes=1)},
    }


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("paperpost")
    app.conf.update(celery_config(settings))
    app.conf.include = ["workers.tasks"]
    return app


app = create_app()
