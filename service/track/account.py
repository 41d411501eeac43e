"""The preferences page's flows: read and change what a subscriber gets, mail fresh links,
export everything kept about them, and erase them (keeping only a suppression hash).

Preference links last 30 days (a fresh one is in every digest); export and erase need a link
mailed on request that lasts an hour, since digests get forwarded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.store.models import (
    Delivery,
    DeliveryKind,
    Event,
    Match,
    SentPaper,
    Subscriber,
    SubscriberStatus,
)
from service.track import mails
from service.track.events import erase_subscriber, record_event
from service.track.ratelimit import Limiter, Rules, address_subject
from service.track.subscription import set_interests, subscriber_for
from service.track.tokens import Purpose, make_token

PAUSE_WEEKS_MAX = 26


@dataclass(frozen=True, slots=True)
class Profile:
    """What the preferences page shows and edits."""

    email: str
    status: str
    interests: tuple[str, ...]
    frequency: str
    weekday: int
    send_hour: int
    timezone: str
    include_trending: bool
    format: str
    summary_style: str
    max_papers: int
    paused_until: dt.datetime | None
    unsubscribe_token: str


@dataclass(frozen=True, slots=True)
class PreferencesChange:
    interests: tuple[str, ...]
    frequency: str
    weekday: int
    send_hour: int
    timezone: str
    include_trending: bool
    format: str
    summary_style: str
    max_papers: int
    pause_weeks: int | None  # None keeps the pause as it is, 0 resumes


def profile(settings: Settings, subscriber: Subscriber) -> Profile:
    return Profile(
        email=subscriber.email,
        status=subscriber.status,
        interests=tuple(i.value for i in subscriber.interests),
        frequency=subscriber.frequency,
        weekday=subscriber.weekday,
        send_hour=subscriber.send_hour,
        timezone=subscriber.timezone,
        include_trending=subscriber.include_trending,
        format=subscriber.format,
        summary_style=subscriber.summary_style,
        max_papers=subscriber.max_papers,
        paused_until=subscriber.paused_until,
        unsubscribe_token=make_token(
            settings.secret_keys(), Purpose.unsubscribe, subscriber.id, subscriber.token_secret
        ),
    )


def load_preferences(session: Session, settings: Settings, token: str) -> Profile:
    """Raises TokenError: "invalid", "expired" or "gone"."""
    return profile(settings, subscriber_for(session, settings, Purpose.prefs, token))


def update_preferences(
    session: Session,
    settings: Settings,
    token: str,
    change: PreferencesChange,
    ip: str | None,
    now: dt.datetime,
) -> Profile:
    subscriber = subscriber_for(session, settings, Purpose.prefs, token)
    before = profile(settings, subscriber)
    set_interests(subscriber, change.interests, now)
    for name in (
        "frequency", "weekday", "send_hour", "timezone", "include_trending", "format",
        "summary_style", "max_papers",
    ):  # fmt: skip
        setattr(subscriber, name, getattr(change, name))
    if change.pause_weeks is not None:
        weeks = max(0, min(change.pause_weeks, PAUSE_WEEKS_MAX))
        subscriber.paused_until = now + dt.timedelta(weeks=weeks) if weeks else None
    after = profile(settings, subscriber)
    changed = sorted(
        name
        for name in Profile.__dataclass_fields__
        if getattr(before, name) != getattr(after, name)
    )
    if changed:
        subscriber.updated_at = now
        record_event(session, "preferences", "web", now, subscriber.id, {"changed": changed}, ip)
    return after


def _mail_link(
    session: Session,
    settings: Settings,
    limiter: Limiter,
    subscriber: Subscriber,
    purpose: Purpose,
    now: dt.datetime,
) -> bool:
    """Queue a mail with a fresh link, at most a few per address per day."""
    if subscriber.status == SubscriberStatus.suppressed:
        return False
    rule = Rules.from_settings(settings).link_address
    if not limiter.hit(session, rule, address_subject(subscriber.email), now):
        return False
    url = mails.token_link(settings, purpose, subscriber.id, subscriber.token_secret)
    payload = (
        mails.account_link_mail(settings, url)
        if purpose is Purpose.manage
        else mails.preferences_link_mail(settings, url)
    )
    mails.queue(session, settings, now, DeliveryKind.notice, subscriber.id, payload)
    return True


def mail_preferences_link(
    session: Session, settings: Settings, limiter: Limiter, token: str, now: dt.datetime
) -> bool:
    """From a preferences link, even an expired one (the signature must still be good)."""
    subscriber = subscriber_for(session, settings, Purpose.prefs, token, expired_ok=True)
    return _mail_link(session, settings, limiter, subscriber, Purpose.prefs, now)


def mail_account_link(
    session: Session, settings: Settings, limiter: Limiter, token: str, now: dt.datetime
) -> bool:
    subscriber = subscriber_for(session, settings, Purpose.prefs, token)
    return _mail_link(session, settings, limiter, subscriber, Purpose.manage, now)


def mail_preferences_link_to(
    session: Session, settings: Settings, limiter: Limiter, email: str, now: dt.datetime
) -> bool:
    """The "manage my subscription" form: a link to the address if it is a subscriber; the
    page says the same either way."""
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is None or subscriber.status == SubscriberStatus.unsubscribed:
        return False
    return _mail_link(session, settings, limiter, subscriber, Purpose.prefs, now)


def load_account(session: Session, settings: Settings, token: str) -> Profile:
    return profile(settings, subscriber_for(session, settings, Purpose.manage, token))


def export_data(
    session: Session, settings: Settings, token: str, ip: str | None, now: dt.datetime
) -> dict[str, Any]:
    """Everything kept about the subscriber, as JSON-ready data."""
    subscriber = subscriber_for(session, settings, Purpose.manage, token)
    record_event(session, "export", "web", now, subscriber.id, ip=ip)
    session.flush()
    sid = subscriber.id
    return {
        "exported_at": now.isoformat(),
        "subscriber": _subscriber_data(subscriber),
        "interests": [
            {"value": i.value, "kind": i.kind, "created_at": _iso(i.created_at)}
            for i in subscriber.interests
        ],
        "events": [_event_data(e) for e in _rows(session, Event, Event.subscriber_id == sid)],
        "mails": [_mail_data(d) for d in _rows(session, Delivery, Delivery.subscriber_id == sid)],
        "papers_sent": [
            {"arxiv_id": s.arxiv_id, "at": _iso(s.created_at)}
            for s in _rows(session, SentPaper, SentPaper.subscriber_id == sid)
        ],
        "papers_matched": session.scalar(
            select(func.count()).select_from(Match).where(Match.subscriber_id == sid)
        ),
    }


def _rows(session: Session, model: Any, where: Any) -> list[Any]:
    return list(session.scalars(select(model).where(where).order_by(model.created_at)))


def _event_data(e: Event) -> dict[str, Any]:
    return {"kind": e.kind, "source": e.source, "at": _iso(e.created_at), "ip": e.ip,
            "detail": e.detail}  # fmt: skip


def _mail_data(d: Delivery) -> dict[str, Any]:
    return {"kind": d.kind, "status": d.status, "created_at": _iso(d.created_at),
            "sent_at": _iso(d.sent_at), "message_id": d.message_id}  # fmt: skip


def _subscriber_data(s: Subscriber) -> dict[str, Any]:
    return {
        "email": s.email, "status": s.status, "timezone": s.timezone, "send_hour": s.send_hour,
        "frequency": s.frequency, "weekday": s.weekday, "max_papers": s.max_papers,
        "include_trending": s.include_trending, "format": s.format,
        "summary_style": s.summary_style, "paused_until": _iso(s.paused_until),
        "created_at": _iso(s.created_at), "confirmed_at": _iso(s.confirmed_at),
        "unsubscribed_at": _iso(s.unsubscribed_at), "last_digest_at": _iso(s.last_digest_at),
    }  # fmt: skip


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def erase(
    session: Session, settings: Settings, token: str, ip: str | None, now: dt.datetime
) -> None:
    """Delete the subscriber and everything tied to them; keep only the suppression hash."""
    subscriber = subscriber_for(session, settings, Purpose.manage, token)
    erase_subscriber(session, subscriber, now, "web", ip)
