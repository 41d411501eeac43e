"""Structured logs: JSON lines when configured, and the delivery id on every line of a send."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.observability.logs import configure_logging, log_context, pop_context, push_context
from service.send.mailer import SmtpMailer
from service.store.db import transaction
from service.track.alerts import raise_alert
from tests.fakes import FakeClock
from tests.servers import SinkHandler


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def json_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_json_lines_carry_the_context(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json_lines=True)
    log = logging.getLogger("paperpost.test")
    with log_context(delivery_id=7):
        with log_context(attempt=2):
            log.info("sending %s", "digest")
        log.warning("done")
    log.debug("not at INFO")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    lines = json_lines(capsys.readouterr().err)
    assert [(r["message"], r.get("delivery_id"), r.get("attempt")) for r in lines] == [
        ("sending digest", 7, 2),
        ("done", 7, None),
        ("failed", None, None),
    ]
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "paperpost.test"
    assert str(lines[0]["ts"]).endswith("Z") and "RuntimeError: boom" in str(lines[2]["exc"])


def test_text_lines_append_the_context(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info")
    token = push_context(task="paperpost.prune", task_id="abc")
    logging.getLogger("paperpost.test").info("pruned")
    pop_context(token)
    logging.getLogger("paperpost.test").info("after")
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("INFO paperpost.test pruned task=paperpost.prune task_id=abc")
    assert err[1].endswith("INFO paperpost.test after")


def queue_alerts(factory: sessionmaker[Session], settings: Settings, now: dt.datetime) -> list[int]:
    with transaction(factory) as session:
        ids = [raise_alert(session, settings, now, f"k{n}", f"Alert {n}", ["line"]) for n in (1, 2)]
    assert None not in ids
    return [i for i in ids if i is not None]


def test_every_line_of_a_send_names_its_delivery(
    restore_logging: None,
    capsys: pytest.CaptureFixture[str],
    factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    sink: tuple[SinkHandler, int],
) -> None:
    handler, port = sink
    settings = settings.model_copy(update={"admin_email": "ops@example.org", "smtp_port": port})
    configure_logging("DEBUG", json_lines=True)
    ids = queue_alerts(factory, settings, clock())
    handler.rcpt_replies["ops@example.org"] = "554 5.6.0 message refused"
    report = pipeline.deliver_batch(factory, settings, SmtpMailer(settings), ids, clock)
    assert report.failed == 2
    lines = [r for r in json_lines(capsys.readouterr().err) if str(r["logger"]).startswith(
        ("paperpost.deliver", "paperpost.send"))]  # fmt: skip
    assert lines, "the send logged nothing"
    assert sorted(r["delivery_id"] for r in lines if r["level"] == "error") == sorted(ids)
    assert all(r.get("delivery_id") in ids for r in lines)
