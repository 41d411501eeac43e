"""The CLI on bad input: a clear message, a non-zero exit, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.store import migrate
from tests.conftest import SAMPLES

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPERPOST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PAPERPOST_SECRET_KEY", settings.secret_key)
    # The sample papers are from 2024 and 2025: keep them matchable whatever today is.
    monkeypatch.setenv("PAPERPOST_RETENTION_PAPERS_DAYS", "0")
    migrate.upgrade(settings.database_url)
    return settings


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_ingest_file_then_list_as_json(env: Settings) -> None:
    code, out = invoke("ingest", "file", str(SAMPLES / "hf_daily_papers_2024-05-29.json"), "--json")
    assert code == 0 and json.loads(out)["new"] == 8
    code, out = invoke("papers", "list", "--json")
    assert code == 0
    papers = json.loads(out)
    assert {p["arxiv_id"] for p in papers} >= {"2405.18407"}


def test_malformed_json_stores_nothing(env: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"arxiv_id": "2401.00001", "title": "x"}, {"arxiv_id": ')
    code, out = invoke("ingest", "file", str(bad))
    assert code == 1 and "invalid JSON at line 1" in out and "nothing was stored" in out
    assert json.loads(invoke("papers", "list", "--json")[1]) == []


def test_subscriber_lifecycle_and_errors(env: Settings) -> None:
    code, out = invoke("subscribers", "add", "not-an-address", "--interest", "gan")
    assert code == 1 and "not a valid email address" in out
    code, out = invoke(
        "subscribers", "add", "ada@example.org", "-i", "gan", "--timezone", "Mars/Base"
    )
    assert code == 1 and "unknown time zone" in out
    code, _ = invoke(
        "subscribers",
        "add",
        "Ada@Example.ORG",
        "-i",
        "gan",
        "-i",
        '"vision transformer"',
        "--confirmed",
    )
    assert code == 0
    code, out = invoke("subscribers", "add", "Ada@example.org")
    assert code == 1 and "already a subscriber" in out
    listed = json.loads(invoke("subscribers", "list", "--json")[1])
    assert [(s["email"], s["status"], s["interests"]) for s in listed] == [
        ("ada@example.org", "active", ["gan", '"vision transformer"'])
    ]
    assert invoke("subscribers", "remove", "nobody@example.org")[0] == 1
    assert invoke("subscribers", "remove", "Ada@example.org")[0] == 0
    assert json.loads(invoke("subscribers", "list", "--json")[1])[0]["status"] == "unsubscribed"


def test_stage_commands_run_in_process(env: Settings) -> None:
    invoke("ingest", "file", str(SAMPLES / "hf_daily_papers_2025-09-12.json"))
    invoke("subscribers", "add", "ada@example.org", "-i", "video", "--hour", "0", "--confirmed")
    code, out = invoke("match", "--json")
    assert code == 0 and json.loads(out)["matches"] > 0
    code, out = invoke("preview", "ada@example.org")
    assert code == 0 and "FOR YOU" in out and "/unsubscribe/" in out
    code, out = invoke("plan", "--json")
    assert code == 0 and len(json.loads(out)["planned"]) == 1
