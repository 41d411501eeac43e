"""The embedded default: a real Celery worker on kombu's SQLAlchemy transport over a SQLite
file (no Redis), with the SQLite database, delivering to aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from service import pipeline
from service.config import Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, DeliveryStatus
from service.track.events import SubscriberInput, add_subscriber
from tests.conftest import SAMPLES
from tests.fakes import FakeClock
from tests.integration.test_celery_postgres import start_worker
from tests.servers import smtp_sink
from workers.app import create_app


def test_sqlite_broker_worker_delivers(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'paperpost.sqlite'}"
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    with smtp_sink() as (sink, port):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url, broker_url=broker_url, smtp_port=port,
            secret_key="embedded-secret-key-0123456789abcdef", mail_from="digest@paperpost.example",
            public_base_url="https://paperpost.example",
        )  # fmt: skip
        migrate.upgrade(db_url)
        factory = make_sessionmaker(make_engine(db_url))
        clock = FakeClock()
        pipeline.ingest_file(factory, SAMPLES / "hf_daily_papers_2025-09-12.json", clock())
        with transaction(factory) as session:
            for n in range(10):
                person = SubscriberInput(f"reader{n}@example.org", ["video"], send_hour=0)
                add_subscriber(session, person, clock(), "test", confirmed=True)
        pipeline.match_new_papers(factory, clock())
        planned = pipeline.plan_editions(factory, settings, clock()).planned
        assert len(planned) == 10

        env = {**os.environ, "PAPERPOST_DATABASE_URL": db_url, "PAPERPOST_BROKER_URL": broker_url,
               "PAPERPOST_SMTP_PORT": str(port), "PAPERPOST_SECRET_KEY": settings.secret_key,
               "PAPERPOST_MAIL_FROM": settings.mail_from,
               "PAPERPOST_PUBLIC_BASE_URL": settings.public_base_url}  # fmt: skip
        worker = start_worker(env)
        try:
            create_app(settings).send_task("paperpost.deliver_batch", args=[planned])
            deadline = time.time() + 90
            while time.time() < deadline and len(sink.messages) < 10:
                time.sleep(0.5)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=20)

        assert Counter(m.rcpt_tos[0] for m in sink.messages) == {
            f"reader{n}@example.org": 1 for n in range(10)
        }
        with factory() as session:
            assert Counter(session.scalars(select(Delivery.status))) == {DeliveryStatus.sent: 10}
