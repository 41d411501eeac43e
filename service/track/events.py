"""The one module that changes subscriber state, recording an event for each change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.match.query import parse_interest
from service.store.models import (
    Event,
    Frequency,
    Interest,
    InterestKind,
    Match,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.store.sql import insert_ignore
from service.track.addresses import email_hash, normalize_email

CONSENT_KINDS = {"subscribe", "confirm", "unsubscribe", "resubscribe", "erase", "suppress"}


class UnknownSubscriber(LookupError):
    pass


@dataclass(frozen=True)
class SubscriberInput:
    email: str
    interests: Sequence[str] = ()
    timezone: str = "UTC"
    send_hour: int = 8
    frequency: str = Frequency.daily
    weekday: int = 0
    max_papers: int = 10
    include_trending: bool = True


def record_event(
    session: Session,
    kind: str,
    source: str,
    now: dt.datetime,
    subscriber_id: int | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    external_id: str | None = None,
) -> None:
    session.add(
        Event(
            kind=kind,
            source=source,
            subscriber_id=subscriber_id,
            detail=detail or {},
            ip=ip,
            external_id=external_id,
            consent=kind in CONSENT_KINDS,
            created_at=now,
        )
    )


def find_subscriber(session: Session, email: str) -> Subscriber:
    subscriber = session.scalar(
        select(Subscriber).where(Subscriber.email == normalize_email(email))
    )
    if subscriber is None:
        raise UnknownSubscriber(f"no subscriber {email!r}")
    return subscriber


def add_subscriber(
    session: Session,
    data: SubscriberInput,
    now: dt.datetime,
    source: str,
    confirmed: bool,
    ip: str | None = None,
) -> Subscriber:
    """Create a subscriber (pending, or active when the operator vouches for consent)."""
    email = normalize_email(data.email)
    if session.scalar(select(Subscriber.id).where(Subscriber.email == email)) is not None:
        raise ValueError(f"{email} is already a subscriber")
    subscriber = Subscriber(
        email=email,
        status=SubscriberStatus.active if confirmed else SubscriberStatus.pending,
        timezone=data.timezone,
        send_hour=data.send_hour,
        frequency=data.frequency,
        weekday=data.weekday,
        max_papers=data.max_papers,
        include_trending=data.include_trending,
        created_at=now,
        updated_at=now,
        confirmed_at=now if confirmed else None,
    )
    subscriber.interests = [new_interest(value, now) for value in data.interests]
    session.add(subscriber)
    session.flush()
    record_event(session, "subscribe", source, now, subscriber.id, {"confirmed": confirmed}, ip)
    return subscriber


def new_interest(value: str, now: dt.datetime) -> Interest:
    """An interest row as understood by the matching engine: normalised text and kind. Raises
    InterestSyntaxError (a ValueError, with position and hint) when it does not parse."""
    parsed = parse_interest(value)
    return Interest(
        value=parsed.text,
        kind=InterestKind(parsed.kind),
        negated=parsed.exclusion_only,
        created_at=now,
        backfill_pending=True,
    )


def unsubscribe(
    session: Session,
    subscriber: Subscriber,
    now: dt.datetime,
    source: str,
    ip: str | None = None,
    external_id: str | None = None,
) -> bool:
    """Idempotent: returns False when the subscriber was already unsubscribed."""
    if subscriber.status == SubscriberStatus.unsubscribed:
        return False
    subscriber.status = SubscriberStatus.unsubscribed
    subscriber.unsubscribed_at = now
    subscriber.updated_at = now
    record_event(session, "unsubscribe", source, now, subscriber.id, ip=ip, external_id=external_id)
    return True


def confirm_subscriber(
    session: Session, subscriber: Subscriber, now: dt.datetime, source: str, ip: str | None = None
) -> bool:
    """pending -> active; idempotent (False when nothing changed)."""
    if subscriber.status != SubscriberStatus.pending:
        return False
    subscriber.status = SubscriberStatus.active
    subscriber.confirmed_at = now
    subscriber.updated_at = now
    record_event(session, "confirm", source, now, subscriber.id, ip=ip)
    return True


def erase_subscriber(
    session: Session, subscriber: Subscriber, now: dt.datetime, source: str, ip: str | None = None
) -> None:
    """Delete the person's data; keep only a suppression hash so the address is never mailed
    again, and a consent event without the address."""
    session.execute(
        insert_ignore(session, Suppression).values(
            email_hash=email_hash(subscriber.email), email=None, reason="erased", created_at=now
        )
    )
    session.execute(
        update(Suppression)
        .where(Suppression.email_hash == email_hash(subscriber.email))
        .values(email=None)
    )
    record_event(session, "erase", source, now, None, {"subscriber_id": subscriber.id}, ip=ip)
    # Matches carry no foreign key (they are bulk-written): they go explicitly.
    session.execute(delete(Match).where(Match.subscriber_id == subscriber.id))
    session.delete(subscriber)
    session.flush()


def suppress(
    session: Session, email: str, reason: str, now: dt.datetime, note: str | None = None
) -> None:
    session.execute(
        insert_ignore(session, Suppression).values(
            email_hash=email_hash(email), email=email, reason=reason, note=note, created_at=now
        )
    )


def is_suppressed(session: Session, email: str) -> bool:
    found = session.scalar(
        select(Suppression.id).where(Suppression.email_hash == email_hash(email))
    )
    return found is not None
