"""The suppression list as the operator sees it: list, add, remove. Adding suppresses the
subscriber too; removing lets mail go to the address again (an active subscriber again if they
had confirmed). Every change is an event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.store.models import Subscriber, SubscriberStatus, Suppression
from service.track.addresses import email_hash, normalize_email
from service.track.events import record_event, suppress


@dataclass(frozen=True, slots=True)
class SuppressionRow:
    email: str | None  # None for an erased person: only the hash is kept
    reason: str
    note: str | None
    created_at: dt.datetime


def list_suppressions(
    session: Session, reason: str | None = None, limit: int = 1000
) -> list[SuppressionRow]:
    query = select(Suppression).order_by(Suppression.created_at.desc()).limit(limit)
    if reason:
        query = query.where(Suppression.reason == reason)
    return [SuppressionRow(s.email, s.reason, s.note, s.created_at) for s in session.scalars(query)]


def _subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def add_suppression(
    session: Session, address: str, now: dt.datetime, note: str | None = None
) -> bool:
    """Suppress an address by hand; False when it was suppressed already."""
    email = normalize_email(address)
    existed = session.scalar(
        select(Suppression.id).where(Suppression.email_hash == email_hash(email))
    )
    suppress(session, email, "manual", now, note=note)
    subscriber = _subscriber(session, email)
    if subscriber is not None and subscriber.status != SubscriberStatus.suppressed:
        subscriber.status = SubscriberStatus.suppressed
        subscriber.updated_at = now
    record_event(session, "suppress", "cli", now, subscriber.id if subscriber else None,
                 {"reason": "manual", "note": note or ""})  # fmt: skip
    return existed is None


def remove_suppression(session: Session, address: str, now: dt.datetime) -> bool:
    """Allow mail to the address again; False when it was not suppressed."""
    email = normalize_email(address)
    removed = session.execute(
        delete(Suppression).where(Suppression.email_hash == email_hash(email))
    ).rowcount  # type: ignore[attr-defined]
    subscriber = _subscriber(session, email)
    if subscriber is not None and subscriber.status == SubscriberStatus.suppressed:
        confirmed = subscriber.confirmed_at is not None
        subscriber.status = SubscriberStatus.active if confirmed else SubscriberStatus.pending
        subscriber.soft_bounces = 0
        subscriber.updated_at = now
    record_event(session, "unsuppress", "cli", now, subscriber.id if subscriber else None)
    return bool(removed)
