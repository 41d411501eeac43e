"""Preparing one claimed row: the claim rules per kind, rendering (a digest from the papers
loaded for its whole window), and what happens when rendering fails."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from service.config import Settings
from service.content import (
    compose_for,
    render_delivery,
    render_digest_for,
    subscriber_links,
)
from service.pipeline.outcome import Prepared, backoff
from service.render.views import PaperCard, RenderedEmail
from service.send.mailer import Outgoing
from service.store import ledger
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    FailureReason,
    Subscriber,
    SubscriberStatus,
)
from service.track.bounces import verp_address

if TYPE_CHECKING:
    from service.pipeline.deliver import DeliverReport

log = logging.getLogger("paperpost.deliver")

# The window's paper cards (without reasons) and why each matched its subscriber.
Papers = tuple[dict[int, PaperCard], dict[tuple[int, int], list[str]]]


def prepare(
    session: Session,
    settings: Settings,
    row: ledger.Sendable,
    suppressed: bool,
    papers: Papers,
    now: dt.datetime,
    report: DeliverReport,
) -> Prepared | None:
    """Check the claim rules and build the bytes; a row whose rendering keeps failing ends
    ``failed/poison``."""
    delivery, subscriber = row.delivery, row.subscriber
    if delivery.attempts > settings.max_attempts:  # claimed again and again, never finished
        ledger.finish(session, delivery.id, DeliveryStatus.failed, now=now,
                      reason=FailureReason.gave_up, error="too many claims")  # fmt: skip
        report.failed += 1
        return None
    stop = FailureReason.suppressed if suppressed else _stop_reason(delivery, subscriber)
    if stop is not None:
        ledger.finish(session, delivery.id, DeliveryStatus.skipped, now=now, reason=stop)
        report.skipped += 1
        return None
    try:
        rendered = render_row(session, settings, row, papers, now)
        composed = compose_for(
            settings, rendered, subscriber, delivery.message_id, now, delivery.kind,
            delivery.to_address,
        )  # fmt: skip
    except Exception as exc:
        log.exception("delivery %s: rendering failed", delivery.id)
        _render_failed(session, settings, delivery, now, exc, report)
        return None
    sender = verp_address(settings, delivery.id) or composed.sender
    message = Outgoing(sender=sender, recipient=composed.recipient, data=composed.data)
    return Prepared(delivery.id, message, delivery.kind, delivery.attempts, delivery.created_at,
                    delivery.subscriber_id)  # fmt: skip


def render_row(
    session: Session, settings: Settings, row: ledger.Sendable, papers: Papers, now: dt.datetime
) -> RenderedEmail:
    """A digest from the papers loaded for its window; every other kind as content renders it."""
    delivery, subscriber = row.delivery, row.subscriber
    if delivery.kind != DeliveryKind.digest or subscriber is None:
        return render_delivery(session, settings, delivery, subscriber, now)
    known, reasons = papers

    def cards(ids: Sequence[int]) -> list[PaperCard]:
        return [
            dataclasses.replace(known[i], reasons=tuple(reasons.get((subscriber.id, i), ())))
            for i in ids
            if i in known
        ]

    links = subscriber_links(settings, subscriber, delivery.created_at)
    return render_digest_for(settings, subscriber, cards(delivery.paper_ids),
                             cards(delivery.trending_ids), now, links)  # fmt: skip


def _render_failed(
    session: Session,
    settings: Settings,
    delivery: Delivery,
    now: dt.datetime,
    exc: Exception,
    report: DeliverReport,
) -> None:
    poisoned = delivery.attempts >= settings.poison_attempts
    ledger.finish(
        session, delivery.id, DeliveryStatus.failed if poisoned else DeliveryStatus.planned,
        now=now, error=f"render: {exc!r}", reason=FailureReason.poison if poisoned else None,
        retry_at=None if poisoned else now + backoff(delivery.attempts, settings),
    )  # fmt: skip
    report.failed += poisoned
    report.retry += not poisoned


ACTIVE_ONLY = {DeliveryKind.digest, DeliveryKind.welcome}


def _stop_reason(delivery: Delivery, subscriber: Subscriber | None) -> str | None:
    """Why this row must not be sent now, per kind: confirm mails go to pending subscribers,
    goodbye only to unsubscribed ones, digests and welcome only to active ones; nothing goes
    to a suppressed address. Alerts and test sends have an address and no subscriber."""
    if subscriber is None and delivery.subscriber_id is not None:
        return FailureReason.unsubscribed  # erased meanwhile
    address = delivery.to_address or (subscriber.email if subscriber else None)
    if address is None:
        return FailureReason.unsubscribed
    if subscriber is not None:
        status = subscriber.status
        if status == SubscriberStatus.suppressed:
            return FailureReason.suppressed
        wanted = {
            DeliveryKind.confirm: {SubscriberStatus.pending},
            DeliveryKind.goodbye: {SubscriberStatus.unsubscribed},
        }.get(DeliveryKind(delivery.kind))
        if delivery.kind in ACTIVE_ONLY:
            wanted = {SubscriberStatus.active}
        if wanted is not None and status not in wanted:
            return FailureReason.unsubscribed
    return None
