"""The account mails the web side sends (confirm, already subscribed, welcome, goodbye, fresh
links), as outbox rows: never SMTP inside a request. The payload keys are the ones the notice
templates read."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from service.config import Settings
from service.store import ledger
from service.store.models import DeliveryKind
from service.track.tokens import Purpose, make_token


def link(settings: Settings, path: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}{path}"


def token_link(
    settings: Settings,
    purpose: Purpose,
    subscriber_id: int,
    secret: str,
    nonce: str | None = None,
) -> str:
    token = make_token(settings.secret_keys(), purpose, subscriber_id, secret, nonce)
    path = {
        Purpose.confirm: "/confirm/",
        Purpose.prefs: "/preferences/",
        Purpose.manage: "/account/",
        Purpose.unsubscribe: "/unsubscribe/",
    }[purpose]
    return link(settings, path + token)


def queue(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    kind: DeliveryKind,
    subscriber_id: int,
    payload: dict[str, Any],
    key: str | None = None,
) -> int | None:
    """One outbox row; ``key`` makes it idempotent (a welcome per confirm request)."""
    return ledger.insert_delivery(
        session,
        kind=kind,
        domain=settings.mail_domain,
        now=now,
        subscriber_id=subscriber_id,
        edition_key=key or f"{kind.value}:{uuid.uuid4().hex}",
        payload=payload,
    )


def _payload(
    subject: str,
    preheader: str,
    heading: str,
    paragraphs: list[str],
    label: str = "",
    url: str = "",
) -> dict[str, Any]:
    return {
        "subject": subject,
        "preheader": preheader,
        "heading": heading,
        "paragraphs": paragraphs,
        "action_label": label,
        "action_url": url,
    }


def confirm_mail(settings: Settings, url: str) -> dict[str, Any]:
    name = settings.mail_from_name
    return _payload(
        f"Confirm your {name} subscription",
        "One click to start getting the papers you follow.",
        "Please confirm your subscription",
        [
            f"Someone, hopefully you, asked to receive {name} digests of new research papers "
            "at this address.",
            "Open the link and press the button to start. The link works for 48 hours.",
            "If you did not ask for this, ignore this mail: nothing will be sent to you.",
        ],
        "Confirm subscription",
        url,
    )


def already_subscribed_mail(settings: Settings, prefs_url: str) -> dict[str, Any]:
    name = settings.mail_from_name
    return _payload(
        f"You are already subscribed to {name}",
        "Nothing changed; your preferences are one click away.",
        "You are already subscribed",
        [
            f"Someone asked to subscribe this address to {name}, but it already gets "
            "digests. Nothing was changed.",
            "To change your interests, schedule or format, open your preferences.",
        ],
        "Manage your preferences",
        prefs_url,
    )


def welcome_mail(settings: Settings, prefs_url: str, schedule: str) -> dict[str, Any]:
    name = settings.mail_from_name
    return _payload(
        f"Welcome to {name}",
        f"Your first digest arrives {schedule}.",
        "You're subscribed",
        [
            f"Your first digest arrives {schedule}, with the new papers that match your interests.",
            "Every digest has a link to your preferences and a one-click unsubscribe.",
        ],
        "Review your preferences",
        prefs_url,
    )


def goodbye_mail(settings: Settings, unsubscribe_url: str) -> dict[str, Any]:
    name = settings.mail_from_name
    return _payload(
        f"You are unsubscribed from {name}",
        "No more digests will be sent to you.",
        "You are unsubscribed",
        [
            f"You will get no more {name} digests. This is the last mail we send you.",
            "Changed your mind? The link below lets you resubscribe with the same interests.",
        ],
        "Resubscribe",
        unsubscribe_url,
    )


def preferences_link_mail(settings: Settings, prefs_url: str) -> dict[str, Any]:
    name = settings.mail_from_name
    return _payload(
        f"Your {name} preferences link",
        "A fresh link to your preferences, valid for 30 days.",
        "Your preferences link",
        [
            "Here is a fresh link to your preferences. It works for 30 days.",
            "If you did not ask for it, ignore this mail.",
        ],
        "Open your preferences",
        prefs_url,
    )


def account_link_mail(settings: Settings, account_url: str) -> dict[str, Any]:
    name = settings.mail_from_name
    return _payload(
        f"Export or delete your {name} data",
        "A link valid for one hour.",
        "Export or delete your data",
        [
            "You asked for a link to export your data or delete it. It works for one hour, "
            "so a forwarded digest cannot be used for either.",
            "If you did not ask for it, ignore this mail: nothing changes.",
        ],
        "Export or delete my data",
        account_url,
    )
