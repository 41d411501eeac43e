"""Aggregate figures of the stored state, for the metrics gauges and the operator alerts.

Every query here is an index range scan or runs on a small table, so a scrape every few
seconds stays cheap on a large ledger: finished deliveries are counted by the
``(status, next_attempt_at)`` index (a finished row's ``next_attempt_at`` is when its last
attempt was due), events by ``created_at``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from service.store.models import (
    Delivery,
    DeliveryStatus,
    Event,
    IngestRun,
    Paper,
    Subscriber,
)

HARD_BOUNCE_EVENTS = ("bounce", "hard_bounce")
COMPLAINT_EVENTS = ("complaint",)
FINISHED = (DeliveryStatus.sent, DeliveryStatus.skipped, DeliveryStatus.failed)


@dataclass(frozen=True, slots=True)
class Window:
    """What happened to mail in a recent window."""

    since: dt.datetime
    sent: int
    failed: int
    skipped: int
    failed_by_reason: dict[str, int]
    bounces: int
    complaints: int

    @property
    def finished(self) -> int:
        return self.sent + self.failed

    @property
    def failure_rate(self) -> float:
        return self.failed / self.finished if self.finished else 0.0

    @property
    def bounce_rate(self) -> float:
        return self.bounces / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0


@dataclass(frozen=True, slots=True)
class Outbox:
    """The mail waiting to go: rows by status, those due now, and how late the oldest is."""

    by_status: dict[str, int]
    due: int
    oldest_due_seconds: float


def window(session: Session, since: dt.datetime) -> Window:
    rows = session.execute(
        select(Delivery.status, Delivery.failure_reason, func.count())
        .where(Delivery.status.in_(FINISHED), Delivery.next_attempt_at >= since)
        .group_by(Delivery.status, Delivery.failure_reason)
    ).all()
    by_status: dict[str, int] = {}
    failed_by_reason: dict[str, int] = {}
    for status, reason, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        if status == DeliveryStatus.failed:
            failed_by_reason[reason or "unknown"] = n
    events = dict(
        session.execute(
            select(Event.kind, func.count())
            .where(Event.created_at >= since, Event.kind.in_(HARD_BOUNCE_EVENTS + COMPLAINT_EVENTS))
            .group_by(Event.kind)
        )
        .tuples()
        .all()
    )
    return Window(
        since=since,
        sent=by_status.get(DeliveryStatus.sent, 0),
        failed=by_status.get(DeliveryStatus.failed, 0),
        skipped=by_status.get(DeliveryStatus.skipped, 0),
        failed_by_reason=failed_by_reason,
        bounces=sum(events.get(k, 0) for k in HARD_BOUNCE_EVENTS),
        complaints=sum(events.get(k, 0) for k in COMPLAINT_EVENTS),
    )


def outbox(session: Session, now: dt.datetime) -> Outbox:
    waiting = (DeliveryStatus.planned, DeliveryStatus.sending)
    by_status = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.status.in_(waiting))
            .group_by(Delivery.status)
        )
        .tuples()
        .all()
    )
    due_rows = and_(
        Delivery.next_attempt_at <= now,
        or_(
            Delivery.status == DeliveryStatus.planned,
            and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now),
        ),
    )
    due, oldest = session.execute(
        select(func.count(), func.min(Delivery.next_attempt_at)).where(due_rows)
    ).one()
    late = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
        late = max(0.0, (now - oldest).total_seconds())
    return Outbox({s: by_status.get(s, 0) for s in waiting}, int(due), late)


def subscribers_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Subscriber.status, func.count()).group_by(Subscriber.status)
    ).tuples()
    return dict(rows.all())


def papers_waiting_for_match(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Paper).where(Paper.match_pending)) or 0
    )


def last_ingest(session: Session) -> dt.datetime | None:
    """When the last ingest run that stored something new finished."""
    found = session.scalar(select(func.max(IngestRun.finished_at)).where(IngestRun.new > 0))
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=dt.UTC)
    return found
