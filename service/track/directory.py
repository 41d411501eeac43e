"""The operator's view of subscribers, interests and suppressions, behind the admin API. Every
change is recorded as an event with source "api"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.store.models import (
    Delivery,
    Event,
    Interest,
    Match,
    Paper,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.track.addresses import email_hash, normalize_email
from service.track.events import (
    SubscriberInput,
    UnknownSubscriber,
    add_subscriber,
    erase_subscriber,
    is_suppressed,
    new_interest,
    record_event,
    suppress,
    unsubscribe,
)
from service.track.subscription import SubscriptionRequest, queue_confirmation, set_interests

EDITABLE = (
    "timezone", "send_hour", "frequency", "weekday", "max_papers", "include_trending", "format",
    "summary_style", "paused_until",
)  # fmt: skip


class Conflict(ValueError):
    """The change contradicts the stored state (a duplicate address, a suppressed one)."""


@dataclass(frozen=True, slots=True)
class InterestRecord:
    id: int
    value: str
    kind: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SubscriberRecord:
    id: int
    email: str
    status: str
    timezone: str
    send_hour: int
    frequency: str
    weekday: int
    max_papers: int
    include_trending: bool
    format: str
    summary_style: str
    paused_until: dt.datetime | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    unsubscribed_at: dt.datetime | None
    last_digest_at: dt.datetime | None
    interests: tuple[InterestRecord, ...]


@dataclass(frozen=True, slots=True)
class SuppressionRecord:
    id: int
    email: str | None
    email_hash: str
    reason: str
    note: str | None
    created_at: dt.datetime


def record(subscriber: Subscriber) -> SubscriberRecord:
    values = {
        f.name: getattr(subscriber, f.name)
        for f in fields(SubscriberRecord)
        if f.name != "interests"
    }
    interests = tuple(
        InterestRecord(i.id, i.value, i.kind, i.created_at) for i in subscriber.interests
    )
    return SubscriberRecord(**values, interests=interests)


def _get(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise UnknownSubscriber(f"no subscriber {subscriber_id}")
    return subscriber


def get_subscriber(session: Session, subscriber_id: int) -> SubscriberRecord:
    return record(_get(session, subscriber_id))


def list_subscribers(
    session: Session, status: str | None, after: int, limit: int
) -> list[SubscriberRecord]:
    """A keyset page: the subscribers with an id above ``after``."""
    query = select(Subscriber).where(Subscriber.id > after).order_by(Subscriber.id).limit(limit)
    if status:
        query = query.where(Subscriber.status == status)
    return [record(s) for s in session.scalars(query)]


def create_subscriber(
    session: Session,
    settings: Settings,
    request: SubscriptionRequest,
    confirmed: bool,
    now: dt.datetime,
) -> SubscriberRecord:
    """``confirmed``: the operator vouches for consent (active at once); otherwise pending,
    with a confirmation mail queued as if the person had used the form."""
    email = normalize_email(request.email)
    if session.scalar(select(Subscriber.id).where(Subscriber.email == email)) is not None:
        raise Conflict(f"{email} is already a subscriber")
    if is_suppressed(session, email):
        raise Conflict(f"{email} is suppressed; remove the suppression first")
    data = SubscriberInput(
        email, (), request.timezone, request.send_hour, request.frequency, request.weekday,
        include_trending=request.include_trending,
    )  # fmt: skip
    subscriber = add_subscriber(session, data, now, "api", confirmed)
    set_interests(subscriber, request.interests, now)
    if not confirmed:
        queue_confirmation(session, settings, subscriber, request, now)
    session.flush()
    return record(subscriber)


def update_subscriber(
    session: Session, subscriber_id: int, changes: dict[str, Any], now: dt.datetime
) -> SubscriberRecord:
    subscriber = _get(session, subscriber_id)
    changed = sorted(
        name
        for name, value in changes.items()
        if name in EDITABLE and getattr(subscriber, name) != value
    )
    for name in changed:
        setattr(subscriber, name, changes[name])
    status = changes.get("status")
    if status and status != subscriber.status:
        _set_status(session, subscriber, status, now)
        changed.append("status")
    if changed:
        subscriber.updated_at = now
        record_event(session, "preferences", "api", now, subscriber.id, {"changed": changed})
    session.flush()
    return record(subscriber)


def _set_status(session: Session, subscriber: Subscriber, status: str, now: dt.datetime) -> None:
    if status == SubscriberStatus.unsubscribed:
        unsubscribe(session, subscriber, now, "api")
    elif status == SubscriberStatus.suppressed:
        suppress(session, subscriber.email, "manual", now, "admin API")
        subscriber.status = SubscriberStatus.suppressed
        record_event(session, "suppress", "api", now, subscriber.id)
    elif status == SubscriberStatus.active:
        if is_suppressed(session, subscriber.email):
            raise Conflict("the address is suppressed; remove the suppression first")
        subscriber.status = SubscriberStatus.active
        subscriber.confirmed_at = subscriber.confirmed_at or now
        subscriber.unsubscribed_at = None
        record_event(session, "resubscribe", "api", now, subscriber.id)
    else:
        raise Conflict(f"cannot set status {status!r}")


def erase(session: Session, subscriber_id: int, now: dt.datetime) -> None:
    erase_subscriber(session, _get(session, subscriber_id), now, "api")


def replace_interests(
    session: Session, subscriber_id: int, values: list[str], now: dt.datetime
) -> SubscriberRecord:
    subscriber = _get(session, subscriber_id)
    set_interests(subscriber, tuple(dict.fromkeys(values)), now)
    record_event(session, "preferences", "api", now, subscriber.id, {"changed": ["interests"]})
    session.flush()
    return record(subscriber)


def add_interest(
    session: Session, subscriber_id: int, value: str, now: dt.datetime
) -> InterestRecord:
    subscriber = _get(session, subscriber_id)
    interest = new_interest(value, now)
    if any(i.value == interest.value for i in subscriber.interests):
        raise Conflict("the subscriber already has this interest")
    subscriber.interests.append(interest)
    record_event(session, "preferences", "api", now, subscriber.id, {"changed": ["interests"]})
    session.flush()
    return InterestRecord(interest.id, interest.value, interest.kind, interest.created_at)


def remove_interest(
    session: Session, subscriber_id: int, interest_id: int, now: dt.datetime
) -> None:
    subscriber = _get(session, subscriber_id)
    kept = [i for i in subscriber.interests if i.id != interest_id]
    if len(kept) == len(subscriber.interests):
        raise UnknownSubscriber(f"no interest {interest_id} for subscriber {subscriber_id}")
    subscriber.interests = kept
    record_event(session, "preferences", "api", now, subscriber.id, {"changed": ["interests"]})


def list_suppressions(session: Session, after: int, limit: int) -> list[SuppressionRecord]:
    rows = session.scalars(
        select(Suppression).where(Suppression.id > after).order_by(Suppression.id).limit(limit)
    )
    return [
        SuppressionRecord(s.id, s.email, s.email_hash, s.reason, s.note, s.created_at) for s in rows
    ]


def add_suppression(
    session: Session, email: str, reason: str, note: str | None, now: dt.datetime
) -> SuppressionRecord:
    address = normalize_email(email)
    suppress(session, address, reason, now, note)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is not None and subscriber.status != SubscriberStatus.suppressed:
        subscriber.status = SubscriberStatus.suppressed
        record_event(session, "suppress", "api", now, subscriber.id, {"reason": reason})
    row = session.scalar(select(Suppression).where(Suppression.email_hash == email_hash(address)))
    assert row is not None
    return SuppressionRecord(
        row.id, row.email, row.email_hash, row.reason, row.note, row.created_at
    )


def remove_suppression(session: Session, suppression_id: int, now: dt.datetime) -> bool:
    """The address may be mailed again (a suppressed subscriber must still resubscribe)."""
    result = session.execute(delete(Suppression).where(Suppression.id == suppression_id))
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        record_event(session, "unsuppress", "api", now, None, {"suppression_id": suppression_id})
    return removed


def stats(session: Session, now: dt.datetime) -> dict[str, Any]:
    day_ago = now - dt.timedelta(days=1)

    def grouped(column: Any, *where: Any) -> dict[str, int]:
        rows = session.execute(select(column, func.count()).where(*where).group_by(column))
        return {str(key): int(n) for key, n in rows}

    return {
        "subscribers": grouped(Subscriber.status),
        "interests": session.scalar(select(func.count(Interest.id))) or 0,
        "suppressions": grouped(Suppression.reason),
        "papers": session.scalar(select(func.count(Paper.id))) or 0,
        "matches": session.scalar(select(func.count()).select_from(Match)) or 0,
        "deliveries": grouped(Delivery.status),
        "deliveries_last_24h": grouped(Delivery.kind, Delivery.created_at >= day_ago),
        "events_last_24h": grouped(Event.kind, Event.created_at >= day_ago),
    }
