"""``paperpost db upgrade | current | check | prune``."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Paper
from tests.servers import free_port

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPERPOST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PAPERPOST_SECRET_KEY", settings.secret_key)
    return settings


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_upgrade_current_check(env: Settings) -> None:
    code, out, _ = run("db", "current")
    assert code == 0 and "empty database" in out and "run: paperpost db upgrade" in out
    code, _, err = run("db", "check")
    assert code == 1 and "Run: paperpost db upgrade" in err
    head = migrate.heads(env.database_url)[0]
    code, out, _ = run("db", "upgrade")
    assert code == 0 and out.strip() == f"database at revision {head}"
    assert run("db", "upgrade")[1].strip().endswith("(unchanged)")
    assert json.loads(run("db", "current", "--json")[1]) == {
        "current": head,
        "head": [head],
        "up_to_date": True,
    }
    code, out, _ = run("db", "check")
    assert code == 0 and "models and migrations agree" in out


def test_behind_and_unreachable(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate.upgrade(env.database_url)
    engine = make_engine(env.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    code, out, _ = run("db", "current")
    assert code == 0 and "0001, behind" in out
    assert json.loads(run("db", "current", "--json")[1])["up_to_date"] is False
    dead = f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/paperpost"
    monkeypatch.setenv("PAPERPOST_DATABASE_URL", dead)
    code, _, err = run("db", "upgrade")
    assert code == 1 and "cannot reach the database" in err and "secret" not in err
    assert "PAPERPOST_DATABASE_URL" in err and "Traceback" not in err


def test_prune_reports_and_dry_run(env: Settings) -> None:
    migrate.upgrade(env.database_url)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=900)
    with transaction(make_sessionmaker(make_engine(env.database_url))) as session:
        session.add(Paper(arxiv_id="2101.00001", title="t", authors=[], categories=[], sources=[],
                          source_ids={}, ai_keywords=[], ingested_at=old, published_at=old,
                          updated_at=old))  # fmt: skip
    dry = json.loads(run("db", "prune", "--dry-run", "--json")[1])
    assert dry["dry_run"] is True and dry["pruned"]["papers"] == 1
    code, out, _ = run("db", "prune")
    assert code == 0 and "papers" in out and "deleted" in out
    assert json.loads(run("db", "prune", "--json")[1])["pruned"]["papers"] == 0
