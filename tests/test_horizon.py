"""Papers published before the papers' retention horizon are never matched, even when ingested
again today; the preview agrees with the match job."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.ingest.model import RawPaper
from service.match.preview import preview_interests
from service.store.db import transaction
from service.store.models import Match, Paper
from service.store.papers import upsert_papers
from service.track.events import SubscriberInput, add_subscriber


def test_old_paper_ingested_again_is_not_matched(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    settings = settings.model_copy(update={"retention_papers_days": 365})
    old = RawPaper("1501.00001", "Mamba snakes of old", "file", summary="mamba",
                   published_at=now - dt.timedelta(days=3000))  # fmt: skip
    new = RawPaper("2611.00001", "Mamba for vision", "file", summary="mamba",
                   published_at=now - dt.timedelta(days=1))  # fmt: skip
    with transaction(factory) as session:
        add_subscriber(session, SubscriberInput("ada@example.org", ["mamba"]), now, "test", True)
    pipeline.match_new_papers(factory, now, settings=settings)  # the interest's backfill: empty
    with transaction(factory) as session:
        upsert_papers(session, [old, new], now)
    pipeline.match_new_papers(factory, now, settings=settings)
    with transaction(factory) as session:  # a new interest's backfill over the window
        add_subscriber(session, SubscriberInput("bo@example.org", ["mamba"]), now, "test", True)
    pipeline.match_new_papers(factory, now, settings=settings)
    with factory() as session:
        per_subscriber = session.execute(
            select(Match.subscriber_id, Paper.arxiv_id).join(Paper, Paper.id == Match.paper_id)
        ).all()
        matched = set(
            session.scalars(select(Paper.arxiv_id).join(Match, Match.paper_id == Paper.id))
        )
        previewed = {h.arxiv_id for h in preview_interests(session, settings, ["mamba"], now)}
    assert matched == {"2611.00001"}
    assert len(per_subscriber) == 2  # both subscribers, the new paper only
    assert previewed == {"2611.00001"}
