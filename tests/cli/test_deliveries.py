"""The outbox commands: plan, deliver (and --dry-run) against a real SMTP server on 127.0.0.1,
deliveries list/retry/resume, suppressions list/add/remove, stats."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.store import migrate, sending
from service.store.db import make_engine, make_sessionmaker, transaction
from tests.faults.sink import Script, fault_sink

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in (("DATABASE_URL", settings.database_url),
                        ("SECRET_KEY", settings.secret_key),
                        ("SKIP_EMPTY_DIGESTS", "false"),
                        ("MAIL_FROM", "digest@paperpost.example")):  # fmt: skip
        monkeypatch.setenv(f"PAPERPOST_{name}", value)
    migrate.upgrade(settings.database_url)
    for n in range(3):
        assert invoke("subscribers", "add", f"p{n}@example.org", "-i", "gan", "--hour", "0",
                      "--confirmed", "--no-mail")[0] == 0  # fmt: skip
    return settings


def factory(settings: Settings) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(settings.database_url))


def test_plan_deliver_list_and_stats(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = invoke("plan", "--json")
    assert code == 0 and len(json.loads(out)["planned"]) == 3
    refused = Script(rcpt=lambda a, n: "550 5.1.1 no such user" if a == "p2@example.org" else None)
    with fault_sink(refused) as sink:
        monkeypatch.setenv("PAPERPOST_SMTP_PORT", str(sink.port))
        code, out = invoke("deliver", "--dry-run", "--json")
        assert code == 0 and json.loads(out)["skipped"] == 3 and sink.arrivals == []
        code, out = invoke("deliver", "--json")
        assert code == 0 and (json.loads(out)["sent"], json.loads(out)["failed"]) == (2, 1)
    assert len(sink.arrivals) == 2
    listed = json.loads(invoke("deliveries", "list", "--status", "failed", "--json")[1])
    assert [(d["address"], d["failure_reason"], d["last_smtp_code"]) for d in listed] == [
        ("p2@example.org", "bounced", 550)
    ]
    stats = json.loads(invoke("stats", "--json")[1])
    edition = stats["editions"][0]
    assert (edition["sent"], edition["failed"], edition["bounced"]) == (2, 1, 1)
    assert stats["queue"]["due"] == 0 and stats["paused"] is None
    code, out = invoke("stats")
    assert code == 0 and "send rate" in out


def test_retry_and_suppressions(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("plan")
    assert invoke("suppressions", "add", "p0@example.org", "--note", "asked by phone")[0] == 0
    with fault_sink() as sink:
        monkeypatch.setenv("PAPERPOST_SMTP_PORT", str(sink.port))
        assert json.loads(invoke("deliver", "--json")[1])["skipped"] == 1
        listed = json.loads(invoke("suppressions", "list", "--json")[1])
        assert [(s["email"], s["reason"]) for s in listed] == [("p0@example.org", "manual")]
        skipped = json.loads(invoke("deliveries", "list", "--status", "skipped", "--json")[1])
        assert invoke("deliveries", "retry", str(skipped[0]["id"]))[0] == 0
        assert invoke("suppressions", "remove", "p0@example.org")[0] == 0
        assert json.loads(invoke("deliver", "--json")[1])["sent"] == 1
    assert {a.rcpt for a in sink.arrivals} == {f"p{n}@example.org" for n in range(3)}
    code, out = invoke("deliveries", "retry", str(skipped[0]["id"]))
    assert code == 1 and "sent" in out
    assert invoke("deliveries", "retry", "999999")[0] == 1
    assert invoke("suppressions", "remove", "p0@example.org")[0] == 1


def test_resume_lifts_a_pause(env: Settings) -> None:
    assert "was not paused" in invoke("deliveries", "resume")[1]
    with transaction(factory(env)) as session:
        sending.pause(session, "550 5.7.1 refused", dt.datetime.now(dt.UTC))
    assert json.loads(invoke("stats", "--json")[1])["paused"]["reason"] == "550 5.7.1 refused"
    code, out = invoke("deliveries", "resume")
    assert code == 0 and "resumed" in out and "5.7.1" in out
