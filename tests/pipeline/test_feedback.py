"""Bounces and complaints: RFC 3464 reports and ARF complaints parsed from a real Maildir by
``paperpost bounces process``, tied to their delivery by VERP or by Message-ID, and the state
machine of F21 (replays change nothing, more than 5 soft bounces suppress, a delivery resets the
count, a hard bounce or a complaint suppresses at once, too many complaints pause sending)."""

from __future__ import annotations

import datetime as dt
import mailbox
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from service import pipeline
from service.cli import app as cli
from service.config import Settings
from service.store import ledger, sending
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Event,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.track.bounces import EventKind, FeedbackEvent, verp_address
from service.track.reports import parse_report

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def bounce_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"bounce_domain": "bounces.paperpost.example", "admin_email": "ops@x.example"}
    )


@pytest.fixture
def sent(factory: Factory) -> list[tuple[int, str, str]]:
    """Three digests of edition 2026-09-21 already sent: (delivery id, address, Message-ID)."""
    out = []
    with transaction(factory) as session:
        for i in range(3):
            person = Subscriber(email=f"p{i}@example.org", status=SubscriberStatus.active,
                                created_at=T0, updated_at=T0)  # fmt: skip
            session.add(person)
            session.flush()
            did = ledger.insert_delivery(session, kind=DeliveryKind.digest,
                                         domain="paperpost.example", now=T0,
                                         subscriber_id=person.id, edition_key="2026-09-21")  # fmt: skip
            assert did is not None
            ledger.finish(session, did, DeliveryStatus.sent, now=T0, code=250)
            mid = session.get(Delivery, did).message_id  # type: ignore[union-attr]
            out.append((did, person.email, mid))
    return out


def dsn(to: str, rcpt: str, action: str, status: str, original_id: str | None, n: int = 1) -> bytes:
    original = (
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{original_id}>\r\nTo: {rcpt}\r\nSubject: digest\r\n\r\n"
        if original_id else ""
    )  # fmt: skip
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {to}\r\nMessage-ID: <dsn{n}@mx.example.org>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} no such user\r\n\r\n"
        f"{original}--B--\r\n"
    ).encode()


def arf(to: str, rcpt: str, original_id: str, n: int = 1) -> bytes:
    return (
        f"From: fbl@isp.example\r\nTo: {to}\r\nMessage-ID: <arf{n}@isp.example>\r\n"
        "Subject: complaint\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        "--B\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {rcpt}\r\n\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: digest@paperpost.example\r\nTo: {rcpt}\r\nMessage-ID: <{original_id}>\r\n"
        "Subject: digest\r\n\r\nbody\r\n--B--\r\n"
    ).encode()


def test_dsn_hard_bounce_by_verp(bounce_settings: Settings, sent: list) -> None:  # type: ignore[type-arg]
    did, address, _ = sent[0]
    events = parse_report(dsn(verp_address(bounce_settings, did) or "", address, "failed",
                              "5.1.1", None), bounce_settings)  # fmt: skip
    assert [(e.kind, e.address, e.delivery_id) for e in events] == [
        (EventKind.hard_bounce, address, did)
    ]


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("failed", "5.1.1", EventKind.hard_bounce),
        ("failed", "5.2.2", EventKind.soft_bounce),
        ("failed", "5.7.1", EventKind.soft_bounce),
        ("delayed", "4.4.7", EventKind.soft_bounce),
        ("delivered", "2.0.0", EventKind.delivered),
    ],
)
def test_dsn_kinds_and_message_id_fallback(
    bounce_settings: Settings,
    sent: list,
    action: str,
    status: str,
    kind: EventKind,  # type: ignore[type-arg]
) -> None:
    _, address, mid = sent[1]
    events = parse_report(dsn("digest@paperpost.example", address, action, status, mid),
                          bounce_settings)  # fmt: skip
    assert [(e.kind, e.message_id, e.delivery_id) for e in events] == [(kind, mid, None)]


def test_verp_tag_is_checked(bounce_settings: Settings) -> None:
    forged = "bounces+d7-00000000@bounces.paperpost.example"
    assert parse_report(dsn(forged, "a@example.org", "failed", "5.1.1", None),
                        bounce_settings)[0].delivery_id is None  # fmt: skip


def test_not_a_report_gives_no_events(bounce_settings: Settings) -> None:
    plain = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    assert parse_report(plain, bounce_settings) == []


def write_maildir(path: Path, messages: list[bytes]) -> mailbox.Maildir:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(raw)
    return box


def test_bounces_process_reads_a_maildir_once(
    factory: Factory, bounce_settings: Settings, sent: list, tmp_path: Path,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    (d0, a0, _), (_, a1, m1), _ = sent
    box = tmp_path / "bounces"
    write_maildir(box, [
        dsn(verp_address(bounce_settings, d0) or "", a0, "failed", "5.1.1", None, n=1),
        arf("fbl@paperpost.example", a1, m1, n=2),
        b"From: x@example.org\r\nSubject: out of office\r\n\r\naway\r\n",
    ])  # fmt: skip
    for name, value in (("DATABASE_URL", bounce_settings.database_url),
                        ("SECRET_KEY", bounce_settings.secret_key),
                        ("BOUNCE_DOMAIN", "bounces.paperpost.example"),
                        ("BOUNCE_MAILBOX", str(box))):  # fmt: skip
        monkeypatch.setenv(f"PAPERPOST_{name}", value)
    runner = CliRunner()
    result = runner.invoke(cli, ["bounces", "process", "--json"])
    assert result.exit_code == 0, result.output
    assert '"suppressed": 2' in result.output and '"not_reports": 1' in result.output
    again = runner.invoke(cli, ["bounces", "process", "--json"])
    assert '"messages": 0' in again.output
    with factory() as session:
        reasons = dict(
            session.execute(select(Suppression.email, Suppression.reason)).tuples().all()
        )
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).tuples().all())
    assert reasons == {a0: "hard_bounce", a1: "complaint"}
    assert statuses[a0] == statuses[a1] == SubscriberStatus.suppressed


def test_bounces_process_handles_mailto_unsubscribes(
    factory: Factory, bounce_settings: Settings, sent: list, tmp_path: Path,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A mail to the List-Unsubscribe mailto address, its token in the subject as the header's
    link writes it, unsubscribes exactly that subscriber, once."""
    from urllib.parse import unquote

    from service.content import subscriber_links

    (_, address, _), _, _ = sent
    with factory() as session:
        person = session.scalars(select(Subscriber).where(Subscriber.email == address)).one()
        mailto = subscriber_links(bounce_settings, person).unsubscribe_mailto
    subject = unquote(mailto.split("subject=", 1)[1])
    request = (f"From: {address}\r\nTo: unsubscribe@bounces.paperpost.example\r\n"
               f"Message-ID: <u1@example.org>\r\nSubject: {subject}\r\n\r\n\r\n").encode()  # fmt: skip
    box = tmp_path / "bounces"
    write_maildir(box, [request, request])  # delivered twice: one change
    for name, value in (("DATABASE_URL", bounce_settings.database_url),
                        ("SECRET_KEY", bounce_settings.secret_key),
                        ("BOUNCE_DOMAIN", "bounces.paperpost.example"),
                        ("BOUNCE_MAILBOX", str(box))):  # fmt: skip
        monkeypatch.setenv(f"PAPERPOST_{name}", value)
    result = CliRunner().invoke(cli, ["bounces", "process", "--json"])
    assert result.exit_code == 0, result.output
    assert '"unsubscribed": 2' in result.output and '"not_reports": 0' in result.output
    with factory() as session:
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).tuples().all())
        changes = session.scalars(
            select(Event.id).where(Event.kind == "unsubscribe", Event.source == "mailto")
        ).all()
    assert statuses[address] == SubscriberStatus.unsubscribed
    assert len(changes) == 1
    assert [s for a, s in statuses.items() if a != address] == [SubscriberStatus.active] * 2


def test_f21_replays_soft_bounce_threshold_and_reset(
    factory: Factory,
    settings: Settings,
    sent: list,  # type: ignore[type-arg]
) -> None:
    did, address, _ = sent[0]

    def soft(n: int) -> FeedbackEvent:
        return FeedbackEvent(f"soft-{n}", EventKind.soft_bounce, address, did, source="webhook")

    def status() -> tuple[str, int, int]:
        with factory() as session:
            person = session.scalar(select(Subscriber).where(Subscriber.email == address))
            assert person is not None
            count = session.scalar(select(func.count()).select_from(Suppression))
            return person.status, person.soft_bounces, int(count or 0)

    for n in range(1, 6):
        for _ in range(2):  # every event delivered twice
            pipeline.apply_feedback(factory, settings, [soft(n)], T0)
    assert status() == ("active", 5, 0)
    pipeline.apply_feedback(factory, settings, [FeedbackEvent("ok-1", EventKind.delivered,
                                                              address, did)], T0)  # fmt: skip
    assert status() == ("active", 0, 0)
    for n in range(6, 12):
        report = pipeline.apply_feedback(factory, settings, [soft(n), soft(n)], T0)
        assert report.duplicates == 1
        assert status()[0] == ("suppressed" if n == 11 else "active")
    assert status() == ("suppressed", 6, 1)

    _, other, _ = sent[1]
    hard = FeedbackEvent("hard-1", EventKind.hard_bounce, other, source="webhook")
    first = pipeline.apply_feedback(factory, settings, [hard], T0)
    replay = pipeline.apply_feedback(factory, settings, [hard], T0)
    assert (first.suppressed, replay.duplicates, replay.suppressed) == (1, 1, 0)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Event)
                              .where(Event.external_id == "hard-1")) == 1  # fmt: skip


def test_complaint_rate_above_threshold_pauses_and_alerts(
    factory: Factory,
    bounce_settings: Settings,
    sent: list,  # type: ignore[type-arg]
) -> None:
    did, address, _ = sent[0]
    strict = bounce_settings.model_copy(update={"complaint_min_sample": 100})
    complaint = FeedbackEvent("c-1", EventKind.complaint, address, did, source="arf")
    pipeline.apply_feedback(factory, strict, [complaint], T0)  # 1 / 100 = 1 % > 0.3 %
    with factory() as session:
        pause = sending.current_pause(session)
        alerts = session.scalar(select(func.count()).select_from(Delivery)
                                .where(Delivery.kind == DeliveryKind.alert))  # fmt: skip
    assert pause is not None and "2026-09-21" in pause.reason and alerts == 1


def test_one_complaint_in_a_large_edition_does_not_pause(
    factory: Factory,
    bounce_settings: Settings,
    sent: list,  # type: ignore[type-arg]
) -> None:
    did, address, _ = sent[0]
    complaint = FeedbackEvent("c-2", EventKind.complaint, address, did, source="arf")
    pipeline.apply_feedback(factory, bounce_settings, [complaint], T0)  # 1 / 1000 = 0.1 %
    with factory() as session:
        assert sending.current_pause(session) is None
