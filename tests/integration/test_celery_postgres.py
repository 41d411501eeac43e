"""The real thing: PostgreSQL, a private Redis broker and a real Celery worker process
delivering to aiosmtpd on 127.0.0.1. Every subscriber gets exactly one digest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from service import pipeline
from service.config import Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, DeliveryStatus
from service.track.events import SubscriberInput, add_subscriber
from tests.conftest import DEMO_DATA, SAMPLES
from tests.fakes import FakeClock
from tests.servers import private_redis, smtp_sink, throwaway_postgres
from workers.app import create_app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--concurrency=2",
         "--loglevel=warning", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip


def test_worker_delivers_exactly_one_digest_per_subscriber(tmp_path: Path) -> None:
    with throwaway_postgres() as db_url, private_redis() as redis_url, smtp_sink() as (sink, port):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url, broker_url=redis_url, smtp_port=port, batch_size=25,
            secret_key="integration-secret-key-0123456789abcdef", mail_from="digest@paperpost.example",
            public_base_url="https://paperpost.example",
        )  # fmt: skip
        migrate.upgrade(db_url)
        factory = make_sessionmaker(make_engine(db_url))
        clock = FakeClock()
        pipeline.ingest_file(factory, SAMPLES / "hf_daily_papers_2025-09-12.json", clock())
        pipeline.ingest_file(factory, DEMO_DATA / "seed_papers.json", clock())
        interests = ["video", "diffusion", "feature", '"neural network"', "vision", "language"]
        with transaction(factory) as session:
            for n in range(120):
                person = SubscriberInput(f"reader{n}@example.org", [interests[n % 6]], send_hour=0)
                add_subscriber(session, person, clock(), "test", confirmed=True)
        pipeline.match_new_papers(factory, clock())
        planned = pipeline.plan_editions(factory, settings, clock()).planned
        assert len(planned) == 120

        env = {**os.environ, "PAPERPOST_DATABASE_URL": db_url, "PAPERPOST_BROKER_URL": redis_url,
               "PAPERPOST_SMTP_PORT": str(port), "PAPERPOST_SECRET_KEY": settings.secret_key,
               "PAPERPOST_MAIL_FROM": settings.mail_from, "PAPERPOST_BATCH_SIZE": "25",
               "PAPERPOST_PUBLIC_BASE_URL": settings.public_base_url}  # fmt: skip
        worker = start_worker(env)
        try:
            app = create_app(settings)
            for start in range(0, len(planned), 25):
                app.send_task("paperpost.deliver_batch", args=[planned[start : start + 25]])
            deadline = time.time() + 120
            while time.time() < deadline and len(sink.messages) < 120:
                time.sleep(0.5)
            time.sleep(1)  # anything extra would arrive now
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)

        per_recipient = Counter(m.rcpt_tos[0] for m in sink.messages)
        assert len(per_recipient) == 120 and set(per_recipient.values()) == {1}
        with factory() as session:
            statuses = Counter(session.scalars(select(Delivery.status)))
        assert statuses == {DeliveryStatus.sent: 120}
