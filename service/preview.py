"""Previews: what a subscriber would get now, built exactly like a digest but written nowhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from service.config import Settings
from service.content import Composed, compose_for, digest_view, paper_cards
from service.render.digest import render_digest
from service.store import ledger
from service.store.ledger import new_message_id
from service.track.events import find_subscriber


def preview_digest(session: Session, settings: Settings, email: str, now: dt.datetime) -> Composed:
    subscriber = find_subscriber(session, email)
    matched = ledger.unsent_matches(session, subscriber.id, subscriber.max_papers)
    for_you = paper_cards(session, subscriber.id, [p.paper_id for p in matched])
    trending: list[int] = []
    if subscriber.include_trending:
        pool = ledger.trending_pool(session, settings.trending_papers * 4)
        taken = {p.arxiv_id for p in matched} | ledger.already_sent(
            session, subscriber.id, [p.arxiv_id for p in pool]
        )
        trending = [p.paper_id for p in pool if p.arxiv_id not in taken][: settings.trending_papers]
    view = digest_view(
        settings, subscriber, for_you, paper_cards(session, subscriber.id, trending), now
    )
    return compose_for(
        settings,
        render_digest(view),
        subscriber,
        new_message_id(settings.mail_domain),
        now,
        "digest",
    )
