"""The beat job on a real database: pending papers, backfills, re-matching, vectors, and the
same answer as ``match test``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.ingest.model import RawPaper
from service.match.preview import preview_interests
from service.match.query import InterestSyntaxError
from service.pipeline import match as pipeline_match
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, Interest, Match, Paper, Subscriber, TextVector
from service.store.papers import upsert_papers
from service.track.events import SubscriberInput, add_subscriber
from tests.conftest import DEMO_DATA
from tests.fakes import FakeClock
from tests.match.fakes import HashingEncoder
from tests.servers import throwaway_postgres

Factory = sessionmaker[Session]


def papers_now(factory: Factory, now: dt.datetime, *items: tuple[str, str, str]) -> None:
    with transaction(factory) as session:
        upsert_papers(
            session,
            [
                RawPaper(arxiv_id=a, title=t, summary=s, source="file", published_at=now)
                for a, t, s in items
            ],
            now,
        )


def subscribe(
    factory: Factory, now: dt.datetime, email: str, *interests: str, max_papers: int = 10
) -> int:
    with transaction(factory) as session:
        data = SubscriberInput(email, interests, max_papers=max_papers)
        return add_subscriber(session, data, now, "test", confirmed=True).id


def matched(factory: Factory, subscriber: int) -> dict[str, list[str]]:
    with factory() as session:
        rows = session.execute(
            select(Paper.arxiv_id, Match.reasons)
            .join(Match, Match.paper_id == Paper.id)
            .where(Match.subscriber_id == subscriber)
        )
        return {a: r for a, r in rows}


def test_pending_papers_are_matched_once_and_unmarked(factory: Factory, clock: FakeClock) -> None:
    papers_now(factory, clock(), ("2611.00001", "Mamba for vision", "A state space model."),
               ("2611.00002", "Diffusion for video", "Denoising."))  # fmt: skip
    ada = subscribe(factory, clock(), "ada@example.org", "mamba")
    report = pipeline.match_new_papers(factory, clock())
    assert (report.papers, report.matches, report.backfilled) == (2, 1, 1)
    assert {"load", "match", "write", "orphans"} <= report.phases.keys()
    phases = report.phases  # matching and writing overlap on PostgreSQL
    assert report.seconds >= phases["load"] + max(phases["match"], phases["write"])
    assert matched(factory, ada) == {"2611.00001": ["“mamba” in title"]}
    with factory() as session:
        assert not session.scalars(select(Paper).where(Paper.match_pending.is_(True))).all()
        assert not session.scalars(
            select(Interest).where(Interest.backfill_pending.is_(True))
        ).all()
    assert pipeline.match_new_papers(factory, clock()).matches == 0  # nothing pending any more


def test_new_interest_gets_the_last_seven_days(factory: Factory, clock: FakeClock) -> None:
    old = clock() - dt.timedelta(days=10)
    papers_now(factory, old, ("2601.00001", "Mamba, an old paper", ""))
    papers_now(factory, clock(), ("2611.00001", "Mamba this week", ""))
    pipeline.match_new_papers(factory, clock())  # nobody subscribed yet
    grace = subscribe(factory, clock(), "grace@example.org", "mamba")
    report = pipeline.match_new_papers(factory, clock())
    assert report.backfilled == 1 and report.papers == 0
    assert set(matched(factory, grace)) == {"2611.00001"}


def test_changed_paper_is_matched_again_but_a_digest_keeps_its_row(
    factory: Factory, clock: FakeClock
) -> None:
    papers_now(factory, clock(), ("2611.00001", "Mamba", ""), ("2611.00002", "Mamba too", ""))
    ada = subscribe(factory, clock(), "ada@example.org", "mamba")
    pipeline.match_new_papers(factory, clock())
    with transaction(factory) as session:
        delivery = Delivery(subscriber_id=ada, message_id="m@x", edition_key="2026-11-27")
        session.add(delivery)
        session.flush()
        taken = session.scalar(select(Paper.id).where(Paper.arxiv_id == "2611.00002"))
        session.execute(
            update(Match).where(Match.paper_id == taken).values(delivery_id=delivery.id)
        )
    clock.advance(hours=1)
    papers_now(
        factory, clock(), ("2611.00001", "Diffusion now", ""), ("2611.00002", "Diffusion too", "")
    )
    pipeline.match_new_papers(factory, clock())
    assert set(matched(factory, ada)) == {
        "2611.00002"
    }  # 00001 no longer matches; 00002 is in a digest


def test_each_subscriber_keeps_at_most_its_digest_size(factory: Factory, clock: FakeClock) -> None:
    papers_now(factory, clock(), *[(f"2611.{n:05d}", f"Mamba paper {n}", "") for n in range(1, 8)])
    small = subscribe(factory, clock(), "small@example.org", "mamba", max_papers=3)
    large = subscribe(factory, clock(), "large@example.org", "mamba", max_papers=10)
    pipeline.match_new_papers(factory, clock())
    assert (len(matched(factory, small)), len(matched(factory, large))) == (3, 7)


def test_a_run_in_parts_writes_the_same_matches_as_in_one(
    factory: Factory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large run is matched and written a range of subscribers at a time (on PostgreSQL a
    part is written while the next is matched): the rows are the same."""
    interests = ["mamba", "diffusion", "mamba -survey", "vision", "state space", "video"]
    people = [subscribe(factory, clock(), f"p{n}@example.org", i) for n, i in enumerate(interests)]
    pipeline.match_new_papers(factory, clock())  # their first backfill, on no paper
    papers_now(factory, clock(), ("2611.00001", "Mamba for vision", "A state space model."),
               ("2611.00002", "Diffusion for video", "Denoising video."),
               ("2611.00003", "A survey of Mamba", "State space models, surveyed."))  # fmt: skip
    whole = pipeline.match_new_papers(factory, clock())
    before = {p: matched(factory, p) for p in people}
    with transaction(factory) as session:
        session.execute(delete(Match))
        session.execute(update(Paper).values(match_pending=True))
    monkeypatch.setattr(pipeline_match, "PART_ROWS", 2)
    parts = pipeline.match_new_papers(factory, clock())
    assert parts.matches == whole.matches > 0
    assert {p: matched(factory, p) for p in people} == before


def test_match_test_and_the_beat_job_give_the_same_papers(
    factory: Factory, settings: Settings, clock: FakeClock
) -> None:
    pipeline.ingest_file(factory, DEMO_DATA / "seed_papers.json", clock())
    for interest in (
        "CTR",
        '"state space models"',
        "vision transformer -survey",
        "self-supervised",
    ):
        with factory() as session:
            hits = preview_interests(session, settings, [interest], clock(), limit=100)
        email = f"{abs(hash(interest))}@example.org"
        person = subscribe(factory, clock(), email, interest, max_papers=50)
        pipeline.match_new_papers(factory, clock(), settings=settings)
        assert set(matched(factory, person)) == {h.arxiv_id for h in hits}, interest
        assert hits, interest


def test_descriptions_are_embedded_once_and_stored(factory: Factory, clock: FakeClock) -> None:
    pipeline.ingest_file(factory, DEMO_DATA / "seed_papers.json", clock())
    description = "recommender systems feature interactions"
    ada = subscribe(factory, clock(), "ada@example.org", description)
    subscribe(factory, clock(), "bob@example.org", description)
    encoder = HashingEncoder()
    report = pipeline.match_new_papers(factory, clock(), encoder=encoder)
    assert report.semantic and report.embedded_papers == 72 and report.embedded_descriptions == 1
    assert any("similar to your description" in r[0] for r in matched(factory, ada).values())
    with factory() as session:
        assert session.scalars(select(TextVector)).all()
        assert all(p.embedding for p in session.scalars(select(Paper)))
    calls = len(encoder.calls)
    papers_now(factory, clock(), ("2611.99999", "Feature interactions for recommender systems", ""))
    pipeline.match_new_papers(factory, clock(), encoder=encoder)
    assert encoder.calls[calls:] == [1]  # only the new paper


def test_subscribing_stores_the_kind_and_refuses_a_bad_interest(
    factory: Factory, clock: FakeClock
) -> None:
    subscribe(
        factory, clock(), "ada@example.org", "cat:cs.cv", "-survey", 'about:"long context models"'
    )
    with factory() as session:
        rows = session.execute(
            select(Interest.value, Interest.kind, Interest.negated).order_by(Interest.id)
        )
        assert list(rows) == [("cat:cs.CV", "category", False), ("-survey", "keyword", True),
                              ('about:"long context models"', "text", False)]  # fmt: skip
    with pytest.raises(InterestSyntaxError, match="closing"):
        subscribe(factory, clock(), "bob@example.org", '"unclosed')
    with factory() as session:
        assert (
            session.scalar(select(Subscriber).where(Subscriber.email == "bob@example.org")) is None
        )


@pytest.mark.integration
def test_postgres_copy_and_lock(clock: FakeClock) -> None:
    with throwaway_postgres() as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        pipeline.ingest_file(factory, DEMO_DATA / "seed_papers.json", clock())
        ada = subscribe(factory, clock(), "ada@example.org", "CTR", "cat:cs", "mamba -survey")
        report = pipeline.match_new_papers(factory, clock())
        assert report.matches == len(matched(factory, ada)) > 0
        assert matched(factory, ada)["demo/0000042"] == ["“CTR” in title"]
        with transaction(factory) as session:  # another job holds the lock: this one skips
            session.execute(select(1))
            from sqlalchemy import text

            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x7061_7065_726D})
            with pytest.MonkeyPatch.context():
                other = pipeline.match_new_papers(make_sessionmaker(engine), clock())
            assert other.skipped
        engine.dispose()
