"""Operator alerts: a mail of kind ``alert`` to PAPERPOST_ADMIN_EMAIL through the same outbox.
At most one alert per key per day, so a repeating condition does not flood the operator."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.config import Settings
from service.store import ledger
from service.store.models import DeliveryKind

log = logging.getLogger("paperpost.alerts")


def raise_alert(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    key: str,
    subject: str,
    lines: Sequence[str],
) -> int | None:
    """Log the alert and queue a mail to the operator; returns the delivery id, or None when
    no admin address is configured or this alert was already raised today."""
    log.warning("alert %s: %s", key, subject)
    if not settings.admin_email:
        return None
    return ledger.insert_delivery(
        session,
        kind=DeliveryKind.alert,
        domain=settings.mail_domain,
        now=now,
        subscriber_id=None,
        to_address=settings.admin_email,
        edition_key=f"{key}:{now.date().isoformat()}",
        payload={
            "subject": f"[{settings.mail_from_name}] {subject}",
            "preheader": subject,
            "heading": subject,
            "paragraphs": list(lines),
            "action_label": "",
            "action_url": "",
        },
    )
