"""Retention: old deliveries, events, matches and papers go; suppressions, consent events and
``sent_papers`` stay; a paper older than the horizon is neither matched nor sent again."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.pipeline.retention import prune, retire_stale_papers
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Event,
    Match,
    Paper,
    SentPaper,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.track.events import SubscriberInput, add_subscriber, record_event, suppress
from tests.fakes import FakeClock

DAY = dt.timedelta(days=1)


def count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def paper(arxiv_id: str, at: dt.datetime, published: dt.datetime | None = None) -> Paper:
    return Paper(
        arxiv_id=arxiv_id, title=f"Paper {arxiv_id}", summary="", authors=[], categories=[],
        sources=["file"], source_ids={}, ai_keywords=[], published_at=published or at,
        ingested_at=at, updated_at=at, match_pending=False,
    )  # fmt: skip


def delivery(subscriber: Subscriber, n: int, status: str, at: dt.datetime) -> Delivery:
    return Delivery(
        subscriber_id=subscriber.id, kind=DeliveryKind.digest, edition_key=f"e{n}",
        status=status, message_id=f"m{n}-{status}@paperpost.example", next_attempt_at=at,
        created_at=at, paper_ids=[], trending_ids=[], payload={},
    )  # fmt: skip


def build_history(factory: sessionmaker[Session], now: dt.datetime) -> None:
    """Rows 400 days old and 1 day old of every kind."""
    old, new = now - 400 * DAY, now - DAY
    with transaction(factory) as session:
        ada = add_subscriber(session, SubscriberInput("ada@example.org"), old, "test", True)
        session.add_all([paper("2301.00001", old), paper("2601.00002", new)])
        # ingested recently but published long ago: kept (someone may be about to get it)
        session.add(paper("2201.00003", new, published=old))
        session.flush()
        papers = {p.arxiv_id: p.id for p in session.scalars(select(Paper))}
        rows = [
            delivery(ada, 1, DeliveryStatus.sent, old),
            delivery(ada, 2, DeliveryStatus.failed, old),
            delivery(ada, 3, DeliveryStatus.skipped, old),
            delivery(ada, 4, DeliveryStatus.planned, old),  # never finished: never pruned
            delivery(ada, 5, DeliveryStatus.sent, new),
        ]
        session.add_all(rows)
        session.flush()
        session.add_all([
            Match(subscriber_id=ada.id, paper_id=papers["2601.00002"], score=1, reasons=[],
                  created_at=old, delivery_id=rows[0].id),
            Match(subscriber_id=ada.id, paper_id=papers["2201.00003"], score=1, reasons=[],
                  created_at=new),
            SentPaper(subscriber_id=ada.id, arxiv_id="2301.00001", delivery_id=rows[0].id,
                      created_at=old),
        ])  # fmt: skip
        record_event(session, "preferences", "web", old, ada.id)  # not consent: pruned
        record_event(session, "soft_bounce", "smtp", old, ada.id)  # not consent: pruned
        record_event(session, "preferences", "web", new, ada.id)  # recent: kept
        suppress(session, "gone@example.org", "hard_bounce", old)


def test_prune_removes_old_rows_and_keeps_what_the_guarantees_need(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    build_history(factory, now)
    report = prune(factory, settings, now)
    assert report.pruned == {"deliveries": 3, "events": 2, "matches": 1, "papers": 1}
    with factory() as session:
        assert sorted(session.scalars(select(Delivery.edition_key))) == ["e4", "e5"]
        assert sorted(session.scalars(select(Paper.arxiv_id))) == ["2201.00003", "2601.00002"]
        assert count(session, Match) == 1
        assert session.scalars(select(SentPaper.arxiv_id)).all() == ["2301.00001"]
        assert session.scalars(select(SentPaper.delivery_id)).all() == [None]
        assert count(session, Suppression) == 1
        kinds = sorted(session.scalars(select(Event.kind)))
        assert kinds == ["preferences", "subscribe"]  # the consent event survives 400 days
        assert session.scalar(select(Subscriber.status)) == SubscriberStatus.active
    assert prune(factory, settings, now).pruned == dict.fromkeys(report.pruned, 0)


def test_dry_run_counts_and_deletes_nothing(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    build_history(factory, now)
    report = prune(factory, settings, now, dry_run=True)
    assert report.pruned == {"deliveries": 3, "events": 2, "matches": 1, "papers": 1}
    with factory() as session:
        assert count(session, Delivery) == 5 and count(session, Paper) == 3


def test_zero_days_keeps_a_table_forever(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    build_history(factory, now)
    keep = settings.model_copy(update={"retention_papers_days": 0, "retention_events_days": 0})
    report = prune(factory, keep, now)
    assert report.pruned["papers"] == 0 and report.pruned["events"] == 0
    assert report.horizons["papers"] is None and report.pruned["deliveries"] == 3


def test_chunked_delete_goes_through_every_chunk(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    old = now - 400 * DAY
    with transaction(factory) as session:
        session.add_all(paper(f"2301.{n:05d}", old) for n in range(4_500))
    assert prune(factory, settings, now).pruned["papers"] == 4_500


def write_papers(path: Path, published: dt.datetime, *ids: str) -> Path:
    rows = [
        {"arxiv_id": i, "title": f"Quantum error correction with surface codes {i}",
         "summary": "We study quantum error correction.", "categories": ["quant-ph"],
         "published_at": published.isoformat()}
        for i in ids
    ]  # fmt: skip
    path.write_text(json.dumps(rows))
    return path


def test_old_paper_ingested_again_is_not_matched_nor_sent_again(
    factory: sessionmaker[Session], settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    start = clock()
    with transaction(factory) as session:
        person = SubscriberInput("ada@example.org", ["quantum"], send_hour=0)
        ada_id = add_subscriber(session, person, start, "test", confirmed=True).id
        session.add(SentPaper(subscriber_id=ada_id, arxiv_id="2301.00001", created_at=start))
    batch = write_papers(tmp_path / "a.json", start - DAY, "2301.00001")
    pipeline.ingest_file(factory, batch, start)
    pipeline.match_new_papers(factory, start, settings.match_window_days)

    clock.advance(days=400)
    assert prune(factory, settings, clock()).pruned["papers"] == 1
    pipeline.ingest_file(factory, batch, clock())  # the same old paper, seen again
    fresh = write_papers(tmp_path / "b.json", clock() - DAY, "2611.00002")
    pipeline.ingest_file(factory, fresh, clock())
    assert retire_stale_papers(factory, settings, clock()) == 1
    pipeline.match_new_papers(factory, clock(), settings.match_window_days)
    with factory() as session:
        matched = session.scalars(
            select(Paper.arxiv_id).join(Match, Match.paper_id == Paper.id)
        ).all()
        assert matched == ["2611.00002"]
        assert session.scalar(select(count_sent(ada_id))) == 1
    # Even matched by hand, the reservation kept in sent_papers stops a second send.
    with transaction(factory) as session:
        old_id = session.scalar(select(Paper.id).where(Paper.arxiv_id == "2301.00001"))
        session.add(Match(subscriber_id=ada_id, paper_id=old_id, score=99, reasons=[],
                          created_at=clock()))  # fmt: skip
    planned = pipeline.plan_editions(factory, settings, clock()).planned
    with factory() as session:
        digest = session.get(Delivery, planned[0])
        assert digest is not None and old_id not in digest.paper_ids
        assert session.scalar(select(Paper.id).where(Paper.arxiv_id == "2611.00002")) in (
            digest.paper_ids
        )


def count_sent(subscriber_id: int) -> object:
    return (
        select(func.count())
        .select_from(SentPaper)
        .where(SentPaper.subscriber_id == subscriber_id, SentPaper.arxiv_id == "2301.00001")
        .scalar_subquery()
    )
