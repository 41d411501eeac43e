"""``paperpost preview`` and ``paperpost send-test`` against a migrated database and a real
SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from service.config import Settings
from service.send.compose import check_headers
from service.store.models import Delivery, SentPaper
from tests.cli.conftest import Cli
from tests.conftest import SAMPLES
from tests.servers import SinkHandler


@pytest.fixture
def world(cli: Cli) -> Cli:
    assert cli("ingest", "file", str(SAMPLES / "hf_daily_papers_2025-09-12.json"))[0] == 0
    code, _, err = cli("subscribers", "add", "ada@example.org", "-i", "video", "--confirmed")
    assert code == 0, err
    assert cli("match")[0] == 0
    return cli


def rows(settings: Settings) -> tuple[int, int]:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        deliveries = conn.scalar(select(func.count()).select_from(Delivery)) or 0
        sent = conn.scalar(select(func.count()).select_from(SentPaper)) or 0
    engine.dispose()
    return deliveries, sent


def test_preview_prints_the_text_part_and_writes_files(
    world: Cli, settings: Settings, tmp_path: Path
) -> None:
    before = rows(settings)
    code, out, _ = world("preview", "Ada@Example.org")
    assert code == 0 and "FOR YOU" in out and "/unsubscribe/" in out
    files = {name: tmp_path / name for name in ("d.html", "d.txt", "d.eml")}
    code, out, _ = world("preview", "ada@example.org", "--html", str(files["d.html"]),
                         "--text", str(files["d.txt"]), "--eml", str(files["d.eml"]),
                         "--edition", "2026-11-27")  # fmt: skip
    assert code == 0 and out.startswith("subject: ")
    raw = files["d.eml"].read_bytes()
    check_headers(raw)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert "Friday 27 November 2026" in files["d.txt"].read_text()
    assert files["d.html"].read_text().startswith("<!DOCTYPE html>")
    assert str(msg["Subject"]) in out
    assert rows(settings) == before  # nothing written, nothing reserved


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("preview", "nobody@example.org"), 1, "nobody@example.org"),
        (("preview", "ada@example.org", "--edition", "27/11/2026"), 2, "not a date"),
        (("send-test", "nobody@example.org"), 1, "nobody@example.org"),
        (("send-test", "ada@example.org", "--to", "not an address"), 1, "not a valid"),
    ],
)
def test_bad_input_is_refused_clearly(
    world: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    got, out, err = world(*args)
    assert got == code and message in out + err


def test_send_test_sends_for_real_and_reserves_nothing(
    world: Cli, settings: Settings, sink: tuple[SinkHandler, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = sink
    monkeypatch.setenv("PAPERPOST_SMTP_PORT", str(port))
    sent_before = rows(settings)[1]
    code, out, err = world("send-test", "ada@example.org", "--to", "Bob@Example.net")
    assert code == 0, err
    assert "sent to bob@example.net, Message-ID <" in out
    assert len(handler.messages) == 1
    received = handler.messages[0]
    assert received.rcpt_tos == ["bob@example.net"]
    msg = received.message
    assert msg["To"] == "bob@example.net" and msg["List-Unsubscribe-Post"]
    assert "video" in str(msg["Subject"])
    assert rows(settings)[1] == sent_before  # the real digest still gets these papers
    code, out, _ = world("preview", "ada@example.org")
    assert code == 0 and "FOR YOU" in out
