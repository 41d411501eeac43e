"""Previews and test sends: what a subscriber gets, built exactly like a digest.

A preview writes nothing. For an edition that already has a digest row, it shows that row's
fixed papers (what was or will be sent); otherwise the papers planning would pick now. A test
send queues a ``test`` outbox row with those papers fixed on it, reserving nothing, so the
subscriber's next real digest is unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.content import Composed, compose_for, paper_cards, render_digest_for, subscriber_links
from service.plan.schedule import edition_key, zone
from service.store import ledger
from service.store.ledger import new_message_id
from service.store.models import Delivery, DeliveryKind, Subscriber
from service.track.addresses import normalize_email
from service.track.events import find_subscriber


@dataclass(frozen=True, slots=True)
class Picks:
    for_you: list[int]
    trending: list[int]
    delivery_id: int | None  # the digest row these come from, when the edition has one
    message_id: str | None


def edition_time(subscriber: Subscriber, day: dt.date) -> dt.datetime:
    """When the digest of local ``day`` goes out: the subscriber's send hour, as UTC."""
    local = dt.datetime.combine(day, dt.time(subscriber.send_hour), zone(subscriber.timezone))
    return local.astimezone(dt.UTC)


def pick_papers(
    session: Session, settings: Settings, subscriber: Subscriber, now: dt.datetime
) -> Picks:
    """The papers of the edition at ``now``: fixed ones if the digest row exists, otherwise
    what planning would choose (best unsent matches, then trending papers not yet sent)."""
    key = edition_key(now.astimezone(zone(subscriber.timezone)), subscriber.frequency)
    row = session.scalar(
        select(Delivery).where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.kind == DeliveryKind.digest,
            Delivery.edition_key == key,
        )
    )
    if row is not None:
        return Picks(list(row.paper_ids), list(row.trending_ids), row.id, row.message_id)
    matched = ledger.unsent_matches(session, subscriber.id, subscriber.max_papers)
    trending: list[int] = []
    if subscriber.include_trending:
        pool = ledger.trending_pool(session, settings.trending_papers * 4)
        taken = {p.arxiv_id for p in matched} | ledger.already_sent(
            session, subscriber.id, [p.arxiv_id for p in pool]
        )
        trending = [p.paper_id for p in pool if p.arxiv_id not in taken][: settings.trending_papers]
    return Picks([p.paper_id for p in matched], trending, None, None)


def preview_digest(
    session: Session,
    settings: Settings,
    email: str,
    now: dt.datetime,
    edition: dt.date | None = None,
) -> Composed:
    """The complete, checked message ``email`` would get (for the edition of local date
    ``edition``, default: now), sent nowhere and reserving nothing."""
    subscriber = find_subscriber(session, email)
    when = edition_time(subscriber, edition) if edition is not None else now
    picks = pick_papers(session, settings, subscriber, when)
    rendered = render_digest_for(
        settings,
        subscriber,
        paper_cards(session, subscriber.id, picks.for_you),
        paper_cards(session, subscriber.id, picks.trending),
        when,
        subscriber_links(settings, subscriber),
    )
    message_id = picks.message_id or new_message_id(settings.mail_domain)
    return compose_for(settings, rendered, subscriber, message_id, when, "digest", full_check=True)


def queue_test_send(
    session: Session,
    settings: Settings,
    email: str,
    now: dt.datetime,
    to_address: str | None = None,
) -> int:
    """An outbox row of kind ``test`` carrying the subscriber's would-be digest, to their own
    address or to ``to_address``; returns its id for the caller to deliver now."""
    subscriber = find_subscriber(session, email)
    target = normalize_email(to_address) if to_address else None
    picks = pick_papers(session, settings, subscriber, now)
    delivery_id = ledger.insert_delivery(
        session,
        kind=DeliveryKind.test,
        domain=settings.mail_domain,
        now=now,
        subscriber_id=subscriber.id,
        edition_key=f"test:{now.isoformat()}:{new_message_id('x')[:8]}",
        to_address=target,
    )
    assert delivery_id is not None  # the edition key is new
    row = session.get(Delivery, delivery_id)
    assert row is not None
    row.paper_ids, row.trending_ids = picks.for_you, picks.trending
    return delivery_id
