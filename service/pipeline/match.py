"""Use case: match new papers against every interest, and new interests against recent papers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from service.match.engine import InterestIndex, match_papers
from service.match.types import InterestSpec, PaperDoc
from service.pipeline._types import Factory
from service.store.db import transaction
from service.store.models import (
    Interest,
    Match,
    Paper,
    Subscriber,
    SubscriberStatus,
)
from service.store.sql import insert_ignore


@dataclass
class MatchReport:
    papers: int = 0
    interests: int = 0
    matches: int = 0


def match_new_papers(factory: Factory, now: dt.datetime, window_days: int = 7) -> MatchReport:
    """Run pending papers against all interests, and new interests against recent papers."""
    report = MatchReport()
    since = now - dt.timedelta(days=window_days)
    with transaction(factory) as session:
        interests = _active_interests(session)
        report.interests = len(interests)
        pending = _paper_docs(session, Paper.match_pending.is_(True))
        report.papers = len(pending)
        found = match_papers(pending, InterestIndex(list(interests))) if interests else []
        fresh = [i for i, new in interests.items() if new]
        if fresh:
            recent = _paper_docs(session, Paper.published_at >= since, Paper.ingested_at >= since)
            found += match_papers(recent, InterestIndex(fresh))
        report.matches = _store_matches(session, found, now)
        session.execute(
            update(Paper).where(Paper.match_pending.is_(True)).values(match_pending=False)
        )
        session.execute(update(Interest).values(backfill_pending=False))
    return report


def _active_interests(session: Session) -> dict[InterestSpec, bool]:
    rows = session.execute(
        select(Interest.id, Interest.subscriber_id, Interest.value, Interest.weight,
               Interest.backfill_pending)
        .join(Subscriber)
        .where(Subscriber.status == SubscriberStatus.active, Interest.negated.is_(False))
    )  # fmt: skip
    return {InterestSpec(i, s, v, w): bool(new) for i, s, v, w, new in rows}


def _paper_docs(session: Session, *where: ColumnElement[bool]) -> list[PaperDoc]:
    """Papers meeting any of the conditions, as match documents."""
    papers = session.scalars(select(Paper).where(or_(*where)))
    return [
        PaperDoc(
            id=p.id,
            arxiv_id=p.arxiv_id,
            title=p.title,
            summary=p.summary,
            authors=tuple(a["name"] for a in p.authors),
            categories=tuple(p.categories),
            upvotes=p.upvotes,
            published_at=p.published_at,
        )
        for p in papers
    ]


def _store_matches(session: Session, found: Sequence[object], now: dt.datetime) -> int:
    rows = [
        {"subscriber_id": m.subscriber_id, "paper_id": m.paper_id, "score": m.score,  # type: ignore[attr-defined]
         "reasons": list(m.reasons), "created_at": now}  # type: ignore[attr-defined]
        for m in found
    ]  # fmt: skip
    for start in range(0, len(rows), 5_000):
        session.execute(insert_ignore(session, Match), rows[start : start + 5_000])
    return len(rows)
