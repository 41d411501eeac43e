"""The beat schedule of the sources, and a real Celery worker (private Redis, PostgreSQL) running
the HF task against a local HTTP server: papers arrive with their arXiv categories."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.schedules import crontab
from sqlalchemy import select

from service.config import ConfigError, Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker
from service.store.models import IngestRun, Paper
from tests.ingest.conftest import HF_2025, arxiv_lookup, paged
from tests.ingest.httpserver import Server
from tests.servers import private_redis, throwaway_postgres
from workers.app import beat_schedule, create_app

ROOT = Path(__file__).resolve().parents[2]


def test_each_source_has_its_own_schedule(settings: Settings) -> None:
    tuned = settings.model_copy(update={"ingest_sources": ["hf", "rss", "arxiv"]})
    schedule = beat_schedule(tuned)
    hf, rss_, api = schedule["ingest-hf"], schedule["ingest-rss"], schedule["ingest-arxiv"]
    assert (hf["task"], hf["args"], rss_["args"], api["args"]) == (
        "paperpost.ingest_source", ["hf"], ["rss"], ["arxiv"],
    )  # fmt: skip
    assert schedule["ingest-check"]["task"] == "paperpost.check_new_papers"
    every_half_hour = hf["schedule"]
    assert isinstance(every_half_hour, crontab)
    assert every_half_hour.hour == set(range(6, 23)) and every_half_hour.minute == {0, 30}
    # arXiv announces Sunday to Thursday at 20:00 US Eastern: the feeds are read Monday to Friday.
    feed = rss_["schedule"]
    assert (feed.minute, feed.hour, feed.day_of_week) == ({30}, {5}, {1, 2, 3, 4, 5})
    assert feed.day_of_month == set(range(1, 32)) and feed.month_of_year == set(range(1, 13))


def test_sources_switched_off_are_not_scheduled(settings: Settings) -> None:
    schedule = beat_schedule(settings.model_copy(update={"ingest_sources": ["rss"]}))
    assert "ingest-rss" in schedule and "ingest-hf" not in schedule


def test_a_bad_cron_line_says_which_setting(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="PAPERPOST_HF_SCHEDULE"):
        beat_schedule(settings.model_copy(update={"hf_schedule": "every 30 minutes"}))
    with pytest.raises(ConfigError, match="PAPERPOST_RSS_SCHEDULE"):
        beat_schedule(settings.model_copy(update={"rss_schedule": "99 5 * * 1-5"}))


@pytest.mark.integration
def test_a_worker_runs_the_hf_task_with_its_enrichment(server: Server, tmp_path: Path) -> None:
    server.respond("/api/daily_papers", paged(HF_2025))
    server.respond("/api/query", arxiv_lookup({i["paper"]["id"]: "cs.CV" for i in HF_2025}))
    with throwaway_postgres() as db_url, private_redis() as redis_url:
        migrate.upgrade(db_url)
        env = {
            **os.environ, "PAPERPOST_DATABASE_URL": db_url, "PAPERPOST_BROKER_URL": redis_url,
            "PAPERPOST_SECRET_KEY": "integration-secret-key-0123456789abcdef",
            "PAPERPOST_HF_BASE_URL": server.url,
            "PAPERPOST_ARXIV_API_URL": f"{server.url}/api/query",
            "PAPERPOST_ARXIV_MIN_INTERVAL": "0.2", "PAPERPOST_HF_MIN_INTERVAL": "0",
        }  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--concurrency=1",
             "--loglevel=warning", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        factory = make_sessionmaker(make_engine(db_url))
        try:
            settings = Settings(_env_file=None, database_url=db_url, broker_url=redis_url,  # type: ignore[call-arg]
                                secret_key=env["PAPERPOST_SECRET_KEY"])  # fmt: skip
            create_app(settings).send_task("paperpost.ingest_source", args=["hf"])
            deadline = time.time() + 60
            while time.time() < deadline:
                with factory() as session:
                    if session.scalar(select(IngestRun)) is not None:
                        break
                time.sleep(0.3)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        with factory() as session:
            run = session.scalars(select(IngestRun)).one()
            stored = list(session.scalars(select(Paper)))
        assert (run.source, run.new, run.errors) == ("hf", 15, [])
        assert len(stored) == 15 and all(p.categories == ["cs.CV", "cs.AI"] for p in stored)
        factory.kw["bind"].dispose()
