"""The subscription flows behind the public pages: subscribe and confirm (``optin.py``),
unsubscribe (link, RFC 8058 one-click, mailto) and resubscribe here; preferences, export and
erasure in ``account.py``. Every change is an event (``events.py``); every mail is an outbox row.
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.store.models import DeliveryKind, Event, SubscriberStatus
from service.track import mails
from service.track.access import subscriber_for
from service.track.events import is_suppressed, record_event
from service.track.events import unsubscribe as unsubscribe_subscriber
from service.track.optin import (
    ConfirmOutcome,
    SubscribeOutcome,
    SubscriptionRequest,
    check_confirm,
    confirm,
    describe_schedule,
    domain_refusal,
    queue_confirmation,
    request_subscription,
    set_interests,
)
from service.track.tokens import Purpose, TokenError

__all__ = [
    "ConfirmOutcome",
    "SubscribeOutcome",
    "SubscriptionRequest",
    "UnsubscribeOutcome",
    "check_confirm",
    "check_unsubscribe",
    "confirm",
    "describe_schedule",
    "domain_refusal",
    "process_mailto_unsubscribe",
    "queue_confirmation",
    "request_subscription",
    "resubscribe",
    "set_interests",
    "subscriber_for",
    "unsubscribe",
]


class UnsubscribeOutcome(StrEnum):
    subscribed = "subscribed"  # GET: show the button
    unsubscribed = "unsubscribed"
    already = "already"
    resubscribed = "resubscribed"
    needs_confirm = "needs_confirm"  # never confirmed: subscribe again through the form
    refused = "refused"  # suppressed after a bounce or complaint
    gone = "gone"  # the subscriber was erased: nothing is sent to this address
    invalid = "invalid"


def check_unsubscribe(session: Session, settings: Settings, token: str) -> UnsubscribeOutcome:
    """What the unsubscribe page shows on GET; changes nothing."""
    try:
        subscriber = subscriber_for(session, settings, Purpose.unsubscribe, token)
    except TokenError as exc:
        return UnsubscribeOutcome.gone if exc.reason == "gone" else UnsubscribeOutcome.invalid
    if subscriber.status in (SubscriberStatus.active, SubscriberStatus.pending):
        return UnsubscribeOutcome.subscribed
    return UnsubscribeOutcome.already


def unsubscribe(
    session: Session,
    settings: Settings,
    token: str,
    source: str,
    ip: str | None,
    now: dt.datetime,
    external_id: str | None = None,
) -> UnsubscribeOutcome:
    """Idempotent. ``source`` is "one-click", "web" (the page's button: a goodbye mail
    follows) or "mailto". Effective at commit: the sender re-checks at claim time."""
    state = check_unsubscribe(session, settings, token)
    if state is not UnsubscribeOutcome.subscribed:
        return state
    subscriber = subscriber_for(session, settings, Purpose.unsubscribe, token)
    if not unsubscribe_subscriber(session, subscriber, now, source, ip, external_id):
        return UnsubscribeOutcome.already
    if source == "web" and subscriber.confirmed_at is not None:
        url = mails.token_link(
            settings, Purpose.unsubscribe, subscriber.id, subscriber.token_secret
        )
        mails.queue(
            session, settings, now, DeliveryKind.goodbye, subscriber.id,
            mails.goodbye_mail(settings, url),
        )  # fmt: skip
    return UnsubscribeOutcome.unsubscribed


def resubscribe(
    session: Session, settings: Settings, token: str, ip: str | None, now: dt.datetime
) -> UnsubscribeOutcome:
    """The "resubscribe" button: back to active with the same interests, for someone who had
    confirmed before; the unsubscribe link came from their own mailbox."""
    try:
        subscriber = subscriber_for(session, settings, Purpose.unsubscribe, token)
    except TokenError as exc:
        return UnsubscribeOutcome.gone if exc.reason == "gone" else UnsubscribeOutcome.invalid
    if subscriber.status == SubscriberStatus.active:
        return UnsubscribeOutcome.resubscribed
    if subscriber.status == SubscriberStatus.suppressed or is_suppressed(session, subscriber.email):
        return UnsubscribeOutcome.refused
    if subscriber.confirmed_at is None:
        return UnsubscribeOutcome.needs_confirm
    subscriber.status = SubscriberStatus.active
    subscriber.unsubscribed_at = None
    subscriber.updated_at = now
    record_event(session, "resubscribe", "web", now, subscriber.id, ip=ip)
    return UnsubscribeOutcome.resubscribed


_MAILTO_TOKEN = re.compile(r"unsubscribe\s+([A-Za-z0-9_\-.]{10,400})", re.IGNORECASE)


def process_mailto_unsubscribe(
    session: Session, settings: Settings, message: EmailMessage, now: dt.datetime
) -> UnsubscribeOutcome:
    """One mail to the ``mailto:`` address of List-Unsubscribe. The token is in the subject
    ("unsubscribe TOKEN", as the header's link sets it) or, failing that, the text body. The
    incoming Message-ID makes a redelivered mail a no-op."""
    found = _MAILTO_TOKEN.search(str(message.get("Subject", "")))
    if found is None:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        found = _MAILTO_TOKEN.search(text[:10_000])
    if found is None:
        return UnsubscribeOutcome.invalid
    message_id = str(message.get("Message-ID", "")).strip()[:200]
    external = f"mailto:{message_id}" if message_id else None
    if external and session.scalar(select(Event.id).where(Event.external_id == external)):
        return UnsubscribeOutcome.already
    return unsubscribe(session, settings, found.group(1), "mailto", None, now, external)
