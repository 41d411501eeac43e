"""Shared sending state in the ``state`` table: the pause switch, the run of consecutive policy
refusals that trips it, the daily warm-up counter, and the per-edition figures of ``stats``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Event,
    KeyValue,
    Suppression,
)
from service.store.sql import insert_ignore

PAUSE = "sending_pause"
POLICY_RUN = "policy_failures"
BOUNCE_KINDS = ("hard_bounce", "soft_bounce")


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str
    since: str


@dataclass(frozen=True, slots=True)
class EditionStats:
    edition_key: str
    planned: int
    sending: int
    sent: int
    skipped: int
    failed: int
    bounced: int
    complaints: int


def _get(session: Session, key: str, lock: bool = False) -> dict[str, Any] | None:
    query = select(KeyValue.value).where(KeyValue.key == key)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _put(session: Session, key: str, value: dict[str, Any], now: dt.datetime) -> None:
    session.execute(insert_ignore(session, KeyValue).values(key=key, value={}, updated_at=now))
    session.execute(update(KeyValue).where(KeyValue.key == key).values(value=value, updated_at=now))


def current_pause(session: Session) -> Pause | None:
    value = _get(session, PAUSE)
    if not value or not value.get("paused"):
        return None
    return Pause(str(value.get("reason", "")), str(value.get("since", "")))


def pause(session: Session, reason: str, now: dt.datetime) -> bool:
    """Pause all sending; False when it was paused already (so the alert goes out once)."""
    if current_pause(session) is not None:
        return False
    _put(session, PAUSE, {"paused": True, "reason": reason, "since": now.isoformat()}, now)
    return True


def resume(session: Session, now: dt.datetime) -> Pause | None:
    """Lift the pause and forget the run of refusals; returns the pause that was lifted."""
    lifted = current_pause(session)
    _put(session, PAUSE, {"paused": False}, now)
    _put(session, POLICY_RUN, {"count": 0}, now)
    return lifted


def count_policy_failure(session: Session, now: dt.datetime) -> int:
    """One more consecutive policy refusal; returns the length of the run."""
    session.execute(
        insert_ignore(session, KeyValue).values(key=POLICY_RUN, value={"count": 0}, updated_at=now)
    )
    value = _get(session, POLICY_RUN, lock=True) or {}
    run = int(value.get("count", 0)) + 1
    _put(session, POLICY_RUN, {"count": run}, now)
    return run


def reset_policy_run(session: Session, now: dt.datetime) -> None:
    value = _get(session, POLICY_RUN)
    if value and value.get("count"):
        _put(session, POLICY_RUN, {"count": 0}, now)


def take_daily_quota(session: Session, wanted: int, cap: int, now: dt.datetime) -> int:
    """Reserve up to ``wanted`` sends from today's (UTC) warm-up cap; returns how many."""
    key = f"sent:{now.date().isoformat()}"
    session.execute(
        insert_ignore(session, KeyValue).values(key=key, value={"count": 0}, updated_at=now)
    )
    used = int((_get(session, key, lock=True) or {}).get("count", 0))
    granted = max(0, min(wanted, cap - used))
    if granted:
        _put(session, key, {"count": used + granted}, now)
    return granted


def edition_complaint_rate(session: Session, edition_key: str, floor: int) -> float:
    """Complaints over digests sent for one edition; the denominator is at least ``floor`` so a
    single complaint on a small list does not stop everything."""
    sent = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.kind == DeliveryKind.digest,
            Delivery.edition_key == edition_key,
            Delivery.status == DeliveryStatus.sent,
        )
    )
    complaints = session.scalar(
        select(func.count())
        .select_from(Event)
        .join(Delivery, Event.delivery_id == Delivery.id)
        .where(Event.kind == "complaint", Delivery.edition_key == edition_key)
    )
    return (complaints or 0) / max(sent or 0, floor, 1)


def edition_stats(session: Session, limit: int = 14) -> list[EditionStats]:
    """Digests per edition, newest first: how many in each state, bounced and complained."""
    status = Delivery.status

    def n(value: str) -> Any:
        return func.sum(case((status == value, 1), else_=0))

    rows = session.execute(
        select(
            Delivery.edition_key,
            n(DeliveryStatus.planned), n(DeliveryStatus.sending), n(DeliveryStatus.sent),
            n(DeliveryStatus.skipped), n(DeliveryStatus.failed),
        )
        .where(Delivery.kind == DeliveryKind.digest, Delivery.edition_key.is_not(None))
        .group_by(Delivery.edition_key)
        .order_by(Delivery.edition_key.desc())
        .limit(limit)
    ).all()  # fmt: skip
    keys = [r[0] for r in rows]
    feedback = session.execute(
        select(Delivery.edition_key, Event.kind, func.count())
        .join(Delivery, Event.delivery_id == Delivery.id)
        .where(Delivery.edition_key.in_(keys), Event.kind.in_([*BOUNCE_KINDS, "complaint"]))
        .group_by(Delivery.edition_key, Event.kind)
    ).all()
    counts: dict[tuple[str, str], int] = {(k, kind): c for k, kind, c in feedback}
    bounced = {k: sum(counts.get((k, b), 0) for b in BOUNCE_KINDS) for k in keys}
    return [
        EditionStats(k, int(p or 0), int(s1 or 0), int(s2 or 0), int(sk or 0), int(f or 0),
                     bounced[k], counts.get((k, "complaint"), 0))
        for k, p, s1, s2, sk, f in rows
    ]  # fmt: skip


def suppressed_among(session: Session, addresses: Sequence[str]) -> set[str]:
    """Which of these addresses are on the suppression list, in one query."""
    from service.track.addresses import email_hash

    if not addresses:
        return set()
    hashes = {email_hash(a): a for a in addresses}
    found = session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(list(hashes)))
    )
    return {hashes[h] for h in found}


def sent_since(session: Session, since: dt.datetime) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Delivery).where(Delivery.sent_at >= since))
        or 0
    )


def backlog(session: Session, now: dt.datetime) -> dict[str, int]:
    """Rows waiting: due now, waiting for a retry, and being sent."""
    rows = session.execute(
        select(
            func.sum(case(((Delivery.status == DeliveryStatus.planned)
                           & (Delivery.next_attempt_at <= now), 1), else_=0)),
            func.sum(case(((Delivery.status == DeliveryStatus.planned)
                           & (Delivery.next_attempt_at > now), 1), else_=0)),
            func.sum(case((Delivery.status == DeliveryStatus.sending, 1), else_=0)),
        ).where(Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.sending]))
    ).one()  # fmt: skip
    due, waiting, sending = (int(v or 0) for v in rows)
    return {"due": due, "retry_later": waiting, "sending": sending}


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    kind: str
    address: str | None
    edition_key: str | None
    status: str
    failure_reason: str | None
    attempts: int
    ambiguous: bool
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_smtp_code: int | None
    last_error: str | None
    message_id: str


def list_deliveries(
    session: Session,
    edition: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[DeliveryRow]:
    from service.store.models import Subscriber

    query = (
        select(Delivery, Subscriber.email)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if edition:
        query = query.where(Delivery.edition_key == edition)
    if status:
        query = query.where(Delivery.status == status)
    if kind:
        query = query.where(Delivery.kind == kind)
    return [
        DeliveryRow(d.id, d.kind, d.to_address or email, d.edition_key, d.status,
                    d.failure_reason, d.attempts, d.ambiguous, d.next_attempt_at, d.sent_at,
                    d.last_smtp_code, d.last_error, d.message_id)
        for d, email in session.execute(query)
    ]  # fmt: skip


def retry_delivery(session: Session, delivery_id: int, now: dt.datetime) -> str:
    """Put a failed or skipped row back in the queue with a fresh attempt count (same
    Message-ID). Returns the status it had; raises LookupError or ValueError."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise LookupError(f"no delivery {delivery_id}")
    if delivery.status in (DeliveryStatus.sent, DeliveryStatus.sending):
        raise ValueError(f"delivery {delivery_id} is {delivery.status}; only failed, skipped or "
                         "planned rows can be retried")  # fmt: skip
    was = delivery.status
    delivery.status = DeliveryStatus.planned
    delivery.failure_reason = None
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.lease_until = None
    delivery.enqueued_at = None
    return was
