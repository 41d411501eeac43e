"""Use case: claim, render, send and record deliveries; sweep the due ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.config import Settings
from service.content import compose_for, render_delivery
from service.pipeline._types import Clock, Factory
from service.send.mailer import Mailer, Outcome, Outgoing
from service.store import ledger
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    FailureReason,
    Subscriber,
    SubscriberStatus,
)
from service.track.events import is_suppressed, record_event, suppress

log = logging.getLogger("paperpost.deliver")
POISON_ATTEMPTS = 3


@dataclass
class DeliverReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    skipped: int = 0
    not_claimed: int = 0

    def add(self, other: DeliverReport) -> None:
        for name in ("sent", "retry", "failed", "skipped", "not_claimed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def deliver_batch(
    factory: Factory, settings: Settings, mailer: Mailer, ids: Sequence[int], clock: Clock
) -> DeliverReport:
    """Claim each row just before sending it, send over one reused connection, and commit the
    outcome right after the server's reply."""
    report = DeliverReport()
    loop = asyncio.new_event_loop()
    try:
        for delivery_id in ids:
            _deliver_one(factory, settings, mailer, loop, delivery_id, clock, report)
    finally:
        loop.run_until_complete(mailer.close())
        loop.close()
    return report


def _deliver_one(
    factory: Factory,
    settings: Settings,
    mailer: Mailer,
    loop: asyncio.AbstractEventLoop,
    delivery_id: int,
    clock: Clock,
    report: DeliverReport,
) -> None:
    lease = dt.timedelta(seconds=settings.lease_seconds)
    with transaction(factory) as session:
        if not ledger.claim(session, delivery_id, clock(), lease):
            report.not_claimed += 1
            return
    with transaction(factory) as session:
        message = _prepare(session, settings, delivery_id, clock(), report)
    if message is None:
        return
    result = loop.run_until_complete(mailer.send(message))
    with transaction(factory) as session:
        _record_outcome(session, settings, delivery_id, result, clock(), report)


def _prepare(
    session: Session, settings: Settings, delivery_id: int, now: dt.datetime, report: DeliverReport
) -> Outgoing | None:
    """Re-read the subscriber (an unsubscribe committed before the claim wins) and build the
    bytes; a row whose rendering keeps failing ends ``failed/poison``."""
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    stop = _stop_reason(session, delivery, subscriber)
    if stop is not None:
        ledger.finish(session, delivery_id, DeliveryStatus.skipped, now=now, reason=stop)
        report.skipped += 1
        return None
    assert subscriber is not None
    try:
        rendered = render_delivery(session, settings, delivery, subscriber, now)
        composed = compose_for(
            settings, rendered, subscriber, delivery.message_id, now, delivery.kind,
            delivery.to_address,
        )  # fmt: skip
    except Exception as exc:
        log.exception("delivery %s: rendering failed", delivery_id)
        poisoned = delivery.attempts >= POISON_ATTEMPTS
        ledger.finish(
            session, delivery_id,
            DeliveryStatus.failed if poisoned else DeliveryStatus.planned,
            now=now, error=f"render: {exc!r}", reason=FailureReason.poison if poisoned else None,
            retry_at=None if poisoned else now + backoff(delivery.attempts),
        )  # fmt: skip
        report.failed += poisoned
        report.retry += not poisoned
        return None
    return Outgoing(sender=composed.sender, recipient=composed.recipient, data=composed.data)


def _stop_reason(session: Session, delivery: Delivery, subscriber: Subscriber | None) -> str | None:
    if subscriber is None:
        return FailureReason.unsubscribed
    needs_active = delivery.kind in (DeliveryKind.digest, DeliveryKind.welcome)
    if needs_active and subscriber.status != SubscriberStatus.active:
        return (
            FailureReason.suppressed
            if subscriber.status == SubscriberStatus.suppressed
            else FailureReason.unsubscribed
        )
    if is_suppressed(session, delivery.to_address or subscriber.email):
        return FailureReason.suppressed
    return None


def _record_outcome(
    session: Session,
    settings: Settings,
    delivery_id: int,
    result: object,
    now: dt.datetime,
    report: DeliverReport,
) -> None:
    from service.send.mailer import SendResult

    assert isinstance(result, SendResult)
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    if result.outcome is Outcome.sent:
        ledger.finish(session, delivery_id, DeliveryStatus.sent, now=now, code=result.code,
                      error=result.reply)  # fmt: skip
        if delivery.kind == DeliveryKind.digest and delivery.subscriber_id:
            session.execute(
                update(Subscriber)
                .where(Subscriber.id == delivery.subscriber_id)
                .values(last_digest_at=now)
            )
        report.sent += 1
    elif result.outcome is Outcome.bounced:
        ledger.finish(session, delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                      error=result.reply, reason=FailureReason.bounced)  # fmt: skip
        _suppress_recipient(session, delivery, "hard_bounce", now, result.reply)
        report.failed += 1
    elif result.outcome is Outcome.rejected:
        ledger.finish(session, delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                      error=result.reply, reason=FailureReason.poison)  # fmt: skip
        log.error("delivery %s: relay rejected the message: %s", delivery_id, result.reply)
        report.failed += 1
    else:
        _schedule_retry(session, settings, delivery, result.code, result.reply, now,
                        ambiguous=result.outcome is Outcome.ambiguous, report=report)  # fmt: skip


def _schedule_retry(
    session: Session,
    settings: Settings,
    delivery: Delivery,
    code: int | None,
    reply: str,
    now: dt.datetime,
    *,
    ambiguous: bool,
    report: DeliverReport,
) -> None:
    if delivery.attempts >= settings.max_attempts:
        ledger.finish(session, delivery.id, DeliveryStatus.failed, now=now, code=code,
                      error=reply, reason=FailureReason.gave_up, ambiguous=ambiguous)  # fmt: skip
        report.failed += 1
        return
    ledger.finish(session, delivery.id, DeliveryStatus.planned, now=now, code=code, error=reply,
                  retry_at=now + backoff(delivery.attempts), ambiguous=ambiguous)  # fmt: skip
    report.retry += 1


def _suppress_recipient(
    session: Session, delivery: Delivery, reason: str, now: dt.datetime, reply: str
) -> None:
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    address = delivery.to_address or (subscriber.email if subscriber else None)
    if address is None:
        return
    suppress(session, address, reason, now, note=reply[:200])
    if subscriber is not None and delivery.to_address is None:
        subscriber.status = SubscriberStatus.suppressed
        record_event(session, "bounce", "smtp", now, subscriber.id, {"reply": reply[:200]})


def backoff(attempts: int, base: float = 60.0, cap: float = 1800.0) -> dt.timedelta:
    """1 min x 2^n with full jitter on the upper half, capped at 30 min."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay / 2 + random.random() * delay / 2)


def sweep_due(factory: Factory, now: dt.datetime, limit: int = 10_000) -> list[int]:
    """Planned rows that are due and sending rows whose lease expired: enqueue them again."""
    with factory() as session:
        return ledger.due_ids(session, now, limit)
