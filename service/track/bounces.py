"""Bounces and complaints: one normalised record for every source (SMTP replies, delivery
status notifications, ARF reports, provider webhooks), deduplicated by its id, and the state
machine it drives (warehouse's rules):

- a hard bounce or a complaint suppresses the address at once;
- soft bounces are counted, and more than ``soft_bounce_limit`` (5) suppress;
- a delivery report resets the count;
- a complaint rate above ``complaint_pause_rate`` (0.3 %) for an edition pauses sending.

The return path encodes the delivery (VERP: ``bounces+d123-3fa9c0de@bounce-domain``, the tag
signed with the secret key), so a bounce ties to its delivery even when a report carries no
headers of the original message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.observability.metrics import EVENTS
from service.store import sending
from service.store.models import Delivery, Event, Subscriber, SubscriberStatus
from service.store.sql import insert_ignore
from service.track.addresses import normalize_email
from service.track.alerts import raise_alert
from service.track.events import suppress

log = logging.getLogger("paperpost.bounces")
_VERP = re.compile(r"^bounces\+d(\d+)-([0-9a-f]{8})@", re.IGNORECASE)


class EventKind(StrEnum):
    hard_bounce = "hard_bounce"
    soft_bounce = "soft_bounce"
    complaint = "complaint"
    delivered = "delivered"


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    event_id: str  # the source's own id: replays carry the same one
    kind: EventKind
    address: str | None = None
    delivery_id: int | None = None
    message_id: str | None = None  # our Message-ID, without angle brackets
    source: str = "dsn"  # smtp, dsn, arf, webhook, ses
    detail: Mapping[str, str] = field(default_factory=dict)


def _verp_tag(settings: Settings, delivery_id: int) -> str:
    key = settings.secret_key.encode()
    return hmac.new(key, f"verp:{delivery_id}".encode(), hashlib.sha256).hexdigest()[:8]


def verp_address(settings: Settings, delivery_id: int) -> str | None:
    """The envelope sender of one delivery, or None when no bounce domain is configured."""
    if not settings.bounce_domain:
        return None
    return f"bounces+d{delivery_id}-{_verp_tag(settings, delivery_id)}@{settings.bounce_domain}"


def delivery_from_verp(settings: Settings, address: str) -> int | None:
    found = _VERP.match(address.strip().strip("<>"))
    if found is None:
        return None
    delivery_id = int(found.group(1))
    if not hmac.compare_digest(found.group(2).lower(), _verp_tag(settings, delivery_id)):
        return None
    return delivery_id


def apply_event(
    session: Session, settings: Settings, event: FeedbackEvent, now: dt.datetime
) -> str:
    """Apply one event; returns what happened: ``duplicate``, ``unknown`` (no delivery and no
    subscriber to tie it to), ``suppressed``, ``counted``, ``reset`` or ``recorded``."""
    delivery = _find_delivery(session, event)
    subscriber = _find_subscriber(session, event, delivery)
    address = event.address or (subscriber.email if subscriber else None)
    if address is None and delivery is not None:
        address = delivery.to_address
    inserted = session.scalar(
        insert_ignore(session, Event)
        .values(
            kind=event.kind.value, source=event.source, external_id=event.event_id[:255],
            subscriber_id=subscriber.id if subscriber else None,
            delivery_id=delivery.id if delivery else None, consent=False,
            detail={**event.detail, "address": address}, created_at=now,
        )
        .returning(Event.id)
    )  # fmt: skip
    if inserted is None:
        return "duplicate"
    EVENTS.labels(event.kind.value).inc()
    if address is None:
        log.warning("feedback event %s ties to no delivery or subscriber", event.event_id)
        return "unknown"
    return _transition(session, settings, event, address, subscriber, delivery, now)


def _transition(
    session: Session,
    settings: Settings,
    event: FeedbackEvent,
    address: str,
    subscriber: Subscriber | None,
    delivery: Delivery | None,
    now: dt.datetime,
) -> str:
    if event.kind is EventKind.delivered:
        if subscriber is not None and subscriber.soft_bounces:
            subscriber.soft_bounces = 0
        return "reset"
    if event.kind is EventKind.soft_bounce:
        if subscriber is None:
            return "recorded"
        subscriber.soft_bounces += 1
        if subscriber.soft_bounces <= settings.soft_bounce_limit:
            return "counted"
        _suppress(session, address, subscriber, "soft_bounce", now)
        return "suppressed"
    _suppress(session, address, subscriber, event.kind.value, now)
    if event.kind is EventKind.complaint and delivery is not None and delivery.edition_key:
        _check_complaint_rate(session, settings, delivery.edition_key, now)
    return "suppressed"


def _suppress(
    session: Session, address: str, subscriber: Subscriber | None, reason: str, now: dt.datetime
) -> None:
    suppress(session, address, reason, now)
    if subscriber is not None and subscriber.status in (
        SubscriberStatus.active,
        SubscriberStatus.pending,
    ):
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber.id)
            .values(status=SubscriberStatus.suppressed, updated_at=now)
        )
        session.refresh(subscriber)


def _check_complaint_rate(
    session: Session, settings: Settings, edition_key: str, now: dt.datetime
) -> None:
    rate = sending.edition_complaint_rate(session, edition_key, settings.complaint_min_sample)
    if rate <= settings.complaint_pause_rate:
        return
    reason = f"complaint rate {rate:.2%} for edition {edition_key}"
    if sending.pause(session, reason, now):
        raise_alert(session, settings, now, "complaints", "Sending paused: too many complaints",
                    [f"The {reason} is above {settings.complaint_pause_rate:.2%}.",
                     "Look at what was sent, then run: paperpost deliveries resume"])  # fmt: skip


def _find_delivery(session: Session, event: FeedbackEvent) -> Delivery | None:
    if event.delivery_id is not None:
        found = session.get(Delivery, event.delivery_id)
        if found is not None:
            return found
    if event.message_id:
        return session.scalar(
            select(Delivery).where(Delivery.message_id == event.message_id.strip().strip("<>"))
        )
    return None


def _find_subscriber(
    session: Session, event: FeedbackEvent, delivery: Delivery | None
) -> Subscriber | None:
    if delivery is not None and delivery.subscriber_id is not None:
        return session.get(Subscriber, delivery.subscriber_id)
    if event.address:
        try:
            email = normalize_email(event.address)
        except ValueError:
            return None
        return session.scalar(select(Subscriber).where(Subscriber.email == email))
    return None
