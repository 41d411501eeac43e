"""The Celery settings that make the broker safe to lose (RELIABILITY.md 1.4 and 3.8), in both
timing profiles, and the rule that nothing is ever scheduled with an ETA past a quarter of the
visibility timeout (celery#2481, kombu#337)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.config import Settings
from workers.app import celery_config, create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["production", "scaled"])
def profile(request: pytest.FixtureRequest) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        timing_profile=request.param,
        broker_url="redis://127.0.0.1:6379/0",
        secret_key="x" * 40,
    )


def test_at_least_once_delivery_settings(profile: Settings) -> None:
    conf = celery_config(profile)
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert conf["task_serializer"] == "json" and conf["accept_content"] == ["json"]


def test_timeouts_keep_their_ratios(profile: Settings) -> None:
    conf = celery_config(profile)
    hard, soft = conf["task_time_limit"], conf["task_soft_time_limit"]
    visibility = conf["broker_transport_options"]["visibility_timeout"]
    assert profile.batch_deadline_seconds < soft < hard
    assert visibility >= 10 * hard  # no redelivery while a task can still be running
    assert profile.lease_seconds > profile.smtp_timeout  # a lease outlives one SMTP exchange
    assert conf["worker_soft_shutdown_timeout"] < hard


def test_embedded_broker_gets_no_redis_transport_options() -> None:
    """kombu's SQLAlchemy transport passes its options to create_engine, which refuses them."""
    embedded = Settings(_env_file=None, broker_url="sqla+sqlite:///var/b.sqlite")  # type: ignore[call-arg]
    assert celery_config(embedded)["broker_transport_options"] == {}


def test_scaled_profile_is_the_fault_test_table() -> None:
    scaled = Settings(_env_file=None, timing_profile="scaled")  # type: ignore[call-arg]
    figures = (scaled.task_time_limit, scaled.task_soft_time_limit, scaled.batch_deadline_seconds,
               scaled.smtp_timeout, scaled.visibility_timeout, scaled.lease_seconds,
               scaled.retry_base_seconds, scaled.retry_cap_seconds, scaled.sweep_interval_seconds)  # fmt: skip
    assert figures == (6, 5, 4, 1, 60, 3, 0.5, 8, 2)
    explicit = Settings(_env_file=None, timing_profile="scaled", lease_seconds=5)  # type: ignore[call-arg]
    assert explicit.lease_seconds == 5  # an explicit setting wins over the profile


def test_no_eta_or_countdown_anywhere() -> None:
    """Retries are scheduled in the outbox (next_attempt_at), never as delayed broker messages."""
    pattern = re.compile(r"\b(countdown|eta)\s*=|\.retry\(")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("service", "workers")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []


def test_beat_schedule_and_redbeat() -> None:
    settings = Settings(_env_file=None, beat_scheduler="redbeat",  # type: ignore[call-arg]
                        redis_url="redis://127.0.0.1:6390/1", secret_key="x" * 40)  # fmt: skip
    conf = celery_config(settings)
    assert conf["beat_scheduler"] == "redbeat.RedBeatScheduler"
    assert conf["redbeat_redis_url"] == "redis://127.0.0.1:6390/1"
    assert conf["beat_max_loop_interval"] <= conf["redbeat_lock_timeout"] / 5
    schedule = conf["beat_schedule"]
    assert schedule["sweep"]["schedule"].total_seconds() <= 30  # web mails wait on the sweeper
    assert schedule["plan"]["task"] == "paperpost.plan_editions"
    assert "beat_scheduler" not in celery_config(Settings(_env_file=None))  # type: ignore[call-arg]


def test_deliver_task_options() -> None:
    import workers.tasks

    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    assert app.conf.task_acks_late is True
    task = workers.tasks.deliver_batch
    assert task.acks_late is True and task.reject_on_worker_lost is True
