"""A real Celery worker (``paperpost worker``, two pool processes, a private Redis broker)
serves /metrics summed over its processes, and logs JSON lines naming the task."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Paper
from tests.observability.helpers import value
from tests.servers import free_port, private_redis
from workers.app import create_app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def old_papers(url: str, n: int) -> None:
    then = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        session.add_all(
            Paper(arxiv_id=f"2201.{i:05d}", title="t", authors=[], categories=[], sources=[],
                  source_ids={}, ai_keywords=[], published_at=then, ingested_at=then,
                  updated_at=then)
            for i in range(n)
        )  # fmt: skip
    engine.dispose()


def scrape_until(
    worker: subprocess.Popen[bytes], url: str, done: str, want: float, timeout: float = 60
) -> str:
    deadline, text = time.time() + timeout, ""
    while time.time() < deadline:
        assert worker.poll() is None, "the worker exited; see worker.log"
        try:
            text = httpx.get(url, timeout=2).text
            if value(text, done, task="paperpost.prune", outcome="success") == want:
                return text
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"worker metrics never showed {done}={want}:\n{text[-2000:]}")


def test_worker_serves_metrics_of_all_its_processes(settings: Settings, tmp_path: Path) -> None:
    migrate.upgrade(settings.database_url)
    old_papers(settings.database_url, 5)
    port = free_port()
    with private_redis() as broker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_MULTIPROC")}
        env.update(PAPERPOST_DATABASE_URL=settings.database_url, PAPERPOST_BROKER_URL=broker,
                   PAPERPOST_SECRET_KEY=settings.secret_key, PAPERPOST_METRICS_PORT=str(port),
                   PAPERPOST_LOG_FORMAT="json")  # fmt: skip
        log = (tmp_path / "worker.log").open("w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--concurrency", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            app = create_app(settings.model_copy(update={"broker_url": broker}))
            for _ in range(3):
                app.send_task("paperpost.prune")
            url = f"http://127.0.0.1:{port}/metrics"
            text = scrape_until(worker, url, "paperpost_tasks_total", 3)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
            log.close()
    assert value(text, "paperpost_rows_pruned_total", table="papers") == 5
    assert value(text, "paperpost_task_seconds_count", task="paperpost.prune") == 3
    lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    pruned = [r for r in lines if r["logger"] == "paperpost.retention"]
    assert len(pruned) == 3
    assert {r["task"] for r in pruned} == {"paperpost.prune"}
    assert len({r["task_id"] for r in pruned}) == 3
    pids = {r["message"] for r in lines if "metrics on" in str(r["message"])}
    assert pids, "the worker did not say where its metrics are"
