"""The operator gets one alert mail a day when the failure, bounce or complaint rate of the
last window crosses its threshold, and none on a sample too small to mean anything."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.send.mailer import SmtpMailer
from service.store.db import transaction
from service.store.models import Delivery, DeliveryKind, DeliveryStatus, FailureReason
from service.track.events import record_event
from tests.fakes import FakeClock
from tests.observability.test_metrics import add_delivery
from tests.servers import SinkHandler


def finished(factory: sessionmaker[Session], now: dt.datetime, sent: int, failed: int) -> None:
    with transaction(factory) as session:
        for n in range(sent):
            add_delivery(session, n, DeliveryStatus.sent, now - dt.timedelta(hours=2))
        for n in range(sent, sent + failed):
            add_delivery(session, n, DeliveryStatus.failed, now - dt.timedelta(hours=2),
                         failure_reason=FailureReason.gave_up)  # fmt: skip


def alerts(factory: sessionmaker[Session]) -> list[tuple[str | None, str, str]]:
    with factory() as session:
        rows = session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.alert))
        return [(d.to_address, d.edition_key or "", d.payload["subject"]) for d in rows]


def test_failure_rate_over_the_threshold_mails_the_operator_once_a_day(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    settings = settings.model_copy(update={"admin_email": "ops@example.org"})
    finished(factory, now, sent=90, failed=10)
    report = pipeline.check_delivery_rates(factory, settings, now)
    assert report.alerts == ["failure_rate"] and report.failure_rate == 0.1
    assert alerts(factory) == [(
        "ops@example.org", f"failure_rate:{now.date().isoformat()}",
        "[paperpost] The delivery failure rate is 10.00% (threshold 5.00%)",
    )]  # fmt: skip
    again = pipeline.check_delivery_rates(factory, settings, now + dt.timedelta(hours=1))
    assert again.alerts == ["failure_rate"] and len(alerts(factory)) == 1


def test_complaints_and_bounces_have_their_own_thresholds(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    settings = settings.model_copy(update={"admin_email": "ops@example.org"})
    finished(factory, now, sent=200, failed=0)
    with transaction(factory) as session:
        record_event(session, "complaint", "feedback", now - dt.timedelta(hours=1))
        for _ in range(5):
            record_event(session, "hard_bounce", "dsn", now - dt.timedelta(hours=1))
    report = pipeline.check_delivery_rates(factory, settings, now)
    assert sorted(report.alerts) == ["bounce_rate", "complaint_rate"]
    assert report.complaint_rate == 1 / 200 and report.bounce_rate == 5 / 200
    assert len(alerts(factory)) == 2


def test_healthy_or_small_samples_raise_nothing(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    settings = settings.model_copy(update={"admin_email": "ops@example.org"})
    finished(factory, now, sent=3, failed=7)  # 70 % failed, but only 10 sends
    assert pipeline.check_delivery_rates(factory, settings, now).alerts == []
    finished_later = now + dt.timedelta(days=2)  # the 10 fall out of the window
    finished(factory, finished_later, sent=0, failed=0)
    quiet = pipeline.check_delivery_rates(factory, settings, finished_later)
    assert quiet.sent == 0 and quiet.alerts == [] and alerts(factory) == []


def test_the_alert_reaches_the_operator_over_smtp(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    sink: tuple[SinkHandler, int],
) -> None:
    handler, port = sink
    settings = settings.model_copy(update={"admin_email": "ops@example.org", "smtp_port": port})
    finished(factory, clock(), sent=40, failed=20)
    assert pipeline.check_delivery_rates(factory, settings, clock()).alerts == ["failure_rate"]
    due = pipeline.sweep_due(factory, clock())
    report = pipeline.deliver_batch(factory, settings, SmtpMailer(settings), due, clock)
    assert report.sent == 1
    (mail,) = handler.messages
    assert mail.rcpt_tos == ["ops@example.org"]
    assert mail.message["Subject"] == (
        "[paperpost] The delivery failure rate is 33.33% (threshold 5.00%)"
    )
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None and "Sent 40, failed 20 (20 gave_up)" in body.get_content()
