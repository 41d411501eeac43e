"""What an operator changes from the admin CLI: add, edit, confirm, interests, import, and the
record shown by ``subscribers show``. Each change is an event (source ``cli`` or ``import``);
each mail (confirmation, welcome) is an outbox row.

An import never overrides a person's own choice: an unsubscribed or suppressed address is not
made active again (only they can resubscribe, or the operator removes the suppression first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.config import Settings
from service.match.query import InterestSyntaxError, parse_interest
from service.plan.schedule import zone
from service.store.models import (
    Delivery,
    DeliveryKind,
    Event,
    Frequency,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.track import mails
from service.track.addresses import email_hash, normalize_email
from service.track.csvfile import Row
from service.track.events import (
    SubscriberInput,
    add_subscriber,
    confirm_subscriber,
    is_suppressed,
    record_event,
    unsubscribe,
)
from service.track.interests import check_interests
from service.track.subscription import (
    SubscriptionRequest,
    describe_schedule,
    queue_confirmation,
    set_interests,
)
from service.track.suppressions import add_suppression
from service.track.tokens import Purpose

EDITABLE = ("timezone", "send_hour", "frequency", "weekday", "max_papers", "include_trending",
            "format")  # fmt: skip


class InvalidChange(ValueError):
    """What is wrong with the values given, said so the operator can fix them."""


@dataclass(frozen=True, slots=True)
class Change:
    """Fields to set; None leaves a field as it is."""

    timezone: str | None = None
    send_hour: int | None = None
    frequency: str | None = None
    weekday: int | None = None
    max_papers: int | None = None
    include_trending: bool | None = None
    format: str | None = None
    interests: tuple[str, ...] | None = None

    def problems(self) -> list[str]:
        found = []
        if self.timezone is not None and zone(self.timezone).key != self.timezone:
            found.append(f"unknown time zone {self.timezone!r} (an IANA name: Europe/Berlin)")
        if self.frequency is not None and self.frequency not in tuple(Frequency):
            found.append(f"frequency {self.frequency!r} is not daily or weekly")
        if self.format is not None and self.format not in ("html", "text"):
            found.append(f"format {self.format!r} is not html or text")
        if self.max_papers is not None and not 1 <= self.max_papers <= 50:
            found.append("max papers must be from 1 to 50")
        found += [f"interest {p.text!r}: {p.message} {p.hint}".strip()
                  for p in check_interests(self.interests or ())]  # fmt: skip
        return found

    def check(self) -> None:
        if found := self.problems():
            raise InvalidChange("; ".join(found))


def apply_change(
    session: Session, subscriber: Subscriber, change: Change, now: dt.datetime, source: str
) -> list[str]:
    """Set the fields given; returns the names that changed (an event records them)."""
    change.check()
    changed = [
        name
        for name in EDITABLE
        if (value := getattr(change, name)) is not None and getattr(subscriber, name) != value
    ]
    for name in changed:
        setattr(subscriber, name, getattr(change, name))
    before = [i.value for i in subscriber.interests]
    wanted = normalized(change.interests) if change.interests is not None else before
    if wanted != before:
        set_interests(subscriber, tuple(wanted), now)
        changed.append("interests")
    if changed:
        subscriber.updated_at = now
        record_event(session, "preferences", source, now, subscriber.id, {"changed": changed})
    return changed


def normalized(values: Sequence[str]) -> list[str]:
    """Interests as they are stored (the parser's normal form), without repeats, so the same
    interests typed differently compare equal and an import stays idempotent."""
    out: dict[str, None] = {}
    for value in values:
        try:
            out[parse_interest(value).text] = None
        except InterestSyntaxError:
            out[" ".join(value.split())] = None
    return list(out)


def create_subscriber(
    session: Session,
    settings: Settings,
    email: str,
    change: Change,
    now: dt.datetime,
    *,
    confirmed: bool,
    mail: bool,
    source: str = "cli",
) -> Subscriber:
    """A new subscriber: active when the operator vouches for consent (with a welcome mail),
    otherwise pending with a confirmation mail, whose link applies these same preferences."""
    change.check()
    if is_suppressed(session, normalize_email(email)):
        raise InvalidChange(f"{email} is suppressed: `paperpost suppressions remove` it first")
    interests = tuple(normalized(change.interests or ()))
    data = SubscriberInput(email=email, interests=interests, **_schedule(change))
    subscriber = add_subscriber(session, data, now, source, confirmed)
    if mail and confirmed:
        queue_welcome(session, settings, subscriber, now)
    elif mail:
        request = SubscriptionRequest(subscriber.email, change.interests or (), **_schedule(change))
        queue_confirmation(session, settings, subscriber, request, now)
    return subscriber


def _schedule(change: Change) -> dict[str, Any]:
    keys = ("timezone", "send_hour", "frequency", "weekday", "include_trending")
    return {k: getattr(change, k) for k in keys if getattr(change, k) is not None}


def queue_welcome(
    session: Session, settings: Settings, subscriber: Subscriber, now: dt.datetime
) -> None:
    prefs = mails.token_link(settings, Purpose.prefs, subscriber.id, subscriber.token_secret)
    payload = mails.welcome_mail(settings, prefs, describe_schedule(subscriber, now))
    mails.queue(session, settings, now, DeliveryKind.welcome, subscriber.id, payload)


def confirm(
    session: Session, settings: Settings, subscriber: Subscriber, now: dt.datetime, mail: bool
) -> bool:
    """pending -> active on the operator's word; False when it was not pending."""
    if not confirm_subscriber(session, subscriber, now, "cli"):
        return False
    if mail:
        queue_welcome(session, settings, subscriber, now)
    return True


def add_interests(
    session: Session, subscriber: Subscriber, values: Sequence[str], now: dt.datetime
) -> list[str]:
    current = [i.value for i in subscriber.interests]
    new = [v for v in normalized(values) if v not in current]
    apply_change(session, subscriber, Change(interests=(*current, *new)), now, "cli")
    return new


def remove_interests(
    session: Session, subscriber: Subscriber, values: Sequence[str], now: dt.datetime
) -> list[str]:
    """Returns the interests removed; InvalidChange names the ones the subscriber does not have."""
    current = [i.value for i in subscriber.interests]
    wanted = normalized(values)
    if missing := [v for v in wanted if v not in current]:
        raise InvalidChange(
            f"{subscriber.email} has no interest {', '.join(map(repr, missing))} "
            f"(theirs: {'; '.join(current) or 'none'})"
        )
    kept = tuple(v for v in current if v not in wanted)
    apply_change(session, subscriber, Change(interests=kept), now, "cli")
    return wanted


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "line N: why", rows left as they are

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def import_rows(
    session: Session, rows: Sequence[Row], now: dt.datetime, report: ImportReport
) -> None:
    """Apply checked rows; importing the same file again changes nothing."""
    emails = [r.email for r in rows]
    existing = {
        s.email: s
        for s in session.scalars(
            select(Subscriber)
            .where(Subscriber.email.in_(emails))
            .options(selectinload(Subscriber.interests))
        )
    }
    suppressed = set(
        session.scalars(
            select(Suppression.email_hash).where(
                Suppression.email_hash.in_([email_hash(e) for e in emails])
            )
        )
    )
    with session.no_autoflush:  # rows of a chunk never depend on each other's writes
        for row in rows:
            held = email_hash(row.email) in suppressed
            outcome = _import_row(session, row, existing.get(row.email), held, now)
            if outcome.startswith("skipped"):
                report.skipped.append(
                    f"line {row.line}: {row.email} {outcome.removeprefix('skipped: ')}"
                )
            else:
                report.count(outcome)


def _import_row(
    session: Session, row: Row, subscriber: Subscriber | None, suppressed: bool, now: dt.datetime
) -> str:
    if row.status == SubscriberStatus.suppressed:
        new = add_suppression(session, row.email, now, note="import")
        return "updated" if new else "unchanged"
    if suppressed or (subscriber is not None and subscriber.status == SubscriberStatus.suppressed):
        return "skipped: is suppressed (`paperpost suppressions remove` it first)"
    change = Change(row.timezone, row.hour, row.frequency, row.weekday, interests=row.interests)
    if subscriber is None:
        interests = tuple(normalized(row.interests))
        data = SubscriberInput(email=row.email, interests=interests, **_schedule(change))
        active = row.status == SubscriberStatus.active
        subscriber = add_subscriber(session, data, now, "import", active)
        if row.status == SubscriberStatus.unsubscribed:
            unsubscribe(session, subscriber, now, "import")
        return "created"
    return _update(session, row, subscriber, change, now)


def _update(
    session: Session, row: Row, subscriber: Subscriber, change: Change, now: dt.datetime
) -> str:
    if subscriber.status == SubscriberStatus.unsubscribed and row.status != subscriber.status:
        return "skipped: unsubscribed themselves; only they can subscribe again"
    changed = apply_change(session, subscriber, change, now, "import")
    if row.status == SubscriberStatus.active:
        changed += ["status"] if confirm_subscriber(session, subscriber, now, "import") else []
    elif row.status == SubscriberStatus.unsubscribed:
        changed += ["status"] if unsubscribe(session, subscriber, now, "import") else []
    return "updated" if changed else "unchanged"


def details(session: Session, subscriber: Subscriber, events: int = 20) -> dict[str, Any]:
    """What ``subscribers show`` prints besides the subscriber's fields."""
    by_status = session.execute(
        select(Delivery.kind, Delivery.status, func.count())
        .where(Delivery.subscriber_id == subscriber.id)
        .group_by(Delivery.kind, Delivery.status)
    ).all()
    recent = session.scalars(
        select(Event)
        .where(Event.subscriber_id == subscriber.id)
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(events)
    )
    suppression = session.scalar(
        select(Suppression).where(Suppression.email_hash == email_hash(subscriber.email))
    )
    return {
        "deliveries": [{"kind": k, "status": s, "count": n} for k, s, n in by_status],
        "events": [
            {"at": e.created_at, "kind": e.kind, "source": e.source, "detail": e.detail}
            for e in recent
        ],
        "suppression": {"reason": suppression.reason, "since": suppression.created_at}
        if suppression
        else None,
    }
