"""Double opt-in: a subscribe request queues the one mail it deserves and changes nothing else;
the confirm link names its request (a nonce), so it applies exactly what was asked, once.

Whatever state an address is in, the caller shows the same page (RELIABILITY.md W5).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.config import Settings
from service.plan.schedule import zone
from service.store.models import (
    Delivery,
    DeliveryKind,
    Event,
    Interest,
    Subscriber,
    SubscriberStatus,
)
from service.track import mails
from service.track.access import check_secret
from service.track.events import (
    SubscriberInput,
    add_subscriber,
    is_suppressed,
    new_interest,
    record_event,
)
from service.track.ratelimit import Limiter, Rules, address_subject
from service.track.tokens import Purpose, TokenError, read_token_nonce


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """What the subscribe form asks for; ``email`` is already normalised."""

    email: str
    interests: tuple[str, ...] = ()
    timezone: str = "UTC"
    send_hour: int = 8
    frequency: str = "daily"
    weekday: int = 0
    include_trending: bool = True

    def as_payload(self) -> dict[str, Any]:
        data = asdict(self)
        del data["email"]  # the address is the subscriber's; the payload needs no copy
        data["interests"] = list(self.interests)
        return data


class SubscribeOutcome(StrEnum):
    """Never shown to the person: every outcome gets the same "check your inbox" page."""

    confirm_queued = "confirm_queued"
    notice_queued = "notice_queued"
    suppressed = "suppressed"
    limited = "limited"


class ConfirmOutcome(StrEnum):
    ready = "ready"  # GET: the link is good, show the button
    confirmed = "confirmed"
    used = "used"  # this link was used before and the subscription is not active now
    refused = "refused"  # the address is suppressed
    invalid = "invalid"
    expired = "expired"


def domain_refusal(settings: Settings, email: str) -> str | None:
    """Why the operator's allow or deny list refuses this address (a domain covers its
    subdomains), or None."""
    domain = email.rpartition("@")[2].lower()

    def listed(names: list[str]) -> bool:
        wanted = (n.strip().lower().lstrip("@.") for n in names)
        return any(n and (domain == n or domain.endswith(f".{n}")) for n in wanted)

    if settings.allowed_domains and not listed(settings.allowed_domains):
        return f"Addresses at {domain} cannot subscribe here."
    if listed(settings.denied_domains):
        return f"Addresses at {domain} cannot subscribe here."
    return None


def request_subscription(
    session: Session,
    settings: Settings,
    limiter: Limiter,
    request: SubscriptionRequest,
    ip: str | None,
    now: dt.datetime,
) -> SubscribeOutcome:
    """Queue the one mail this request deserves, or none; change nothing else."""
    email = request.email
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if is_suppressed(session, email) or (
        subscriber is not None and subscriber.status == SubscriberStatus.suppressed
    ):
        return SubscribeOutcome.suppressed
    rule = Rules.from_settings(settings).confirm_address
    if not limiter.hit(session, rule, address_subject(email), now):
        return SubscribeOutcome.limited
    if subscriber is not None and subscriber.status == SubscriberStatus.active:
        prefs = mails.token_link(settings, Purpose.prefs, subscriber.id, subscriber.token_secret)
        mails.queue(
            session, settings, now, DeliveryKind.notice, subscriber.id,
            mails.already_subscribed_mail(settings, prefs),
        )  # fmt: skip
        record_event(session, "subscribe_request", "web", now, subscriber.id, {"active": True}, ip)
        return SubscribeOutcome.notice_queued
    if subscriber is None:
        subscriber = add_subscriber(session, _input(request), now, "web", False, ip)
        set_interests(subscriber, request.interests, now)
    else:
        record_event(session, "subscribe_request", "web", now, subscriber.id, {}, ip)
    queue_confirmation(session, settings, subscriber, request, now)
    return SubscribeOutcome.confirm_queued


def queue_confirmation(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    request: SubscriptionRequest,
    now: dt.datetime,
) -> None:
    """The confirm mail; its link names this request, which it applies once."""
    nonce = uuid.uuid4().hex
    url = mails.token_link(settings, Purpose.confirm, subscriber.id, subscriber.token_secret, nonce)
    payload = {**mails.confirm_mail(settings, url), "request": request.as_payload()}
    mails.queue(
        session, settings, now, DeliveryKind.confirm, subscriber.id, payload, f"confirm:{nonce}"
    )


def _input(request: SubscriptionRequest) -> SubscriberInput:
    return SubscriberInput(
        email=request.email,
        interests=(),
        timezone=request.timezone,
        send_hour=request.send_hour,
        frequency=request.frequency,
        weekday=request.weekday,
        include_trending=request.include_trending,
    )


def set_interests(subscriber: Subscriber, values: tuple[str, ...], now: dt.datetime) -> None:
    """Replace the interests (stored as the match stage normalises them); an interest kept as
    it was keeps its row, so it is not run against the last week's papers again."""
    kept = {i.value: i for i in subscriber.interests}
    rows: dict[str, Interest] = {}
    for value in values:
        fresh = new_interest(value, now)
        rows.setdefault(fresh.value, kept.get(fresh.value) or fresh)
    subscriber.interests = list(rows.values())


def check_confirm(session: Session, settings: Settings, token: str) -> ConfirmOutcome:
    """What the confirm page shows on GET; changes nothing (link scanners open links)."""
    try:
        subscriber, nonce, _request = _confirm_request(session, settings, token)
    except TokenError as exc:
        return ConfirmOutcome.expired if exc.reason == "expired" else ConfirmOutcome.invalid
    if _used(session, nonce):
        active = subscriber.status == SubscriberStatus.active
        return ConfirmOutcome.confirmed if active else ConfirmOutcome.used
    return ConfirmOutcome.ready


def confirm(
    session: Session, settings: Settings, token: str, ip: str | None, now: dt.datetime
) -> ConfirmOutcome:
    """Apply the request the link names and activate, once. A replay shows the same success
    and queues no second welcome."""
    state = check_confirm(session, settings, token)
    if state is not ConfirmOutcome.ready:
        return state
    subscriber, nonce, request = _confirm_request(session, settings, token)
    if is_suppressed(session, subscriber.email) or subscriber.status == SubscriberStatus.suppressed:
        return ConfirmOutcome.refused
    try:
        with session.begin_nested():
            record_event(
                session, "confirm", "web", now, subscriber.id, {"request": nonce}, ip,
                external_id=f"confirm:{nonce}",
            )  # fmt: skip
            session.flush()
    except IntegrityError:  # the same link, confirmed a moment ago in another request
        return check_confirm(session, settings, token)
    _apply_request(subscriber, request, now)
    subscriber.status = SubscriberStatus.active
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.updated_at = now
    prefs = mails.token_link(settings, Purpose.prefs, subscriber.id, subscriber.token_secret)
    mails.queue(
        session, settings, now, DeliveryKind.welcome, subscriber.id,
        mails.welcome_mail(settings, prefs, describe_schedule(subscriber, now)), f"welcome:{nonce}",
    )  # fmt: skip
    return ConfirmOutcome.confirmed


def _confirm_request(
    session: Session, settings: Settings, token: str
) -> tuple[Subscriber, str, dict[str, Any]]:
    subscriber_id, secret, nonce = read_token_nonce(settings.secret_keys(), Purpose.confirm, token)
    subscriber = check_secret(session, subscriber_id, secret)
    delivery = session.scalar(
        select(Delivery).where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.kind == DeliveryKind.confirm,
            Delivery.edition_key == f"confirm:{nonce}",
        )
    )
    if not nonce or delivery is None:
        raise TokenError("invalid")
    request = delivery.payload.get("request")
    return subscriber, nonce, request if isinstance(request, dict) else {}


def _used(session: Session, nonce: str) -> bool:
    found = session.scalar(select(Event.id).where(Event.external_id == f"confirm:{nonce}"))
    return found is not None


def _apply_request(subscriber: Subscriber, request: dict[str, Any], now: dt.datetime) -> None:
    for name in ("timezone", "send_hour", "frequency", "weekday", "include_trending"):
        if name in request:
            setattr(subscriber, name, request[name])
    if "interests" in request:
        set_interests(subscriber, tuple(str(v) for v in request["interests"]), now)


def describe_schedule(subscriber: Subscriber, now: dt.datetime) -> str:
    """ "tomorrow at 08:00 (Europe/Berlin)" style text for the welcome mail."""
    hour = f"{subscriber.send_hour:02d}:00 ({subscriber.timezone})"
    if subscriber.frequency == "weekly":
        day = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[
            subscriber.weekday % 7
        ]
        return f"on {day} at {hour}, once a week"
    local = now.astimezone(zone(subscriber.timezone))
    return f"{'today' if local.hour < subscriber.send_hour else 'tomorrow'} at {hour}"
