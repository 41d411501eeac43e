"""The matches table: written in bulk (binary COPY on PostgreSQL, multi-row inserts on SQLite),
read back the same; interests loaded grouped; no foreign keys, so erasing a subscriber,
pruning papers and the job's own sweep remove the rows that would point at nothing.
Runs on the database of the matrix (SQLite, or PostgreSQL with PAPERPOST_TEST_DATABASE)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.match.combine import MatchTable
from service.match.types import PaperDoc
from service.pipeline.retention import prune
from service.store import matching
from service.store.db import transaction
from service.store.models import Delivery, DeliveryKind, Interest, Match, Paper, Subscriber
from service.track.events import SubscriberInput, add_subscriber, erase_subscriber, unsubscribe

REASONS = [
    ("“diffusion” in title",),
    ('a "quoted" \\ backslash', "tab\there", "line\nbreak"),
    ("category cs.LG", "author Zoë Müller", "emoji 🧪"),
]


def people(session: Session, now: dt.datetime, *interests: list[str]) -> list[int]:
    found = []
    for n, values in enumerate(interests):
        person = SubscriberInput(f"p{n}@example.org", values)
        found.append(add_subscriber(session, person, now, "test", True).id)
    return found


def papers(session: Session, now: dt.datetime, count: int) -> list[PaperDoc]:
    session.add_all(
        Paper(arxiv_id=f"2611.{n:05d}", title=f"Paper {n}", summary="", authors=[],
              categories=[], sources=["file"], source_ids={}, ai_keywords=[],
              published_at=now, ingested_at=now, updated_at=now)
        for n in range(count)
    )  # fmt: skip
    session.flush()
    return matching.paper_docs(session, Paper.id.is_not(None))


def table(rows: list[tuple[int, int, float, int]]) -> MatchTable:
    """(subscriber, paper index, score, reason index) rows."""
    s, p, score, r = (np.array(c) for c in zip(*rows, strict=True))
    return MatchTable(s.astype(np.int64), p.astype(np.int64), score, r.astype(np.int64), REASONS)


def stored(session: Session) -> dict[tuple[int, int], tuple[float, list[str], int | None]]:
    session.expire_all()
    rows = session.scalars(select(Match))
    return {(m.subscriber_id, m.paper_id): (m.score, m.reasons, m.delivery_id) for m in rows}


def test_matches_read_back_as_written(session: Session, now: dt.datetime) -> None:
    ada, bo = people(session, now, ["mamba"], ["diffusion"])
    docs = papers(session, now, 3)
    written = matching.replace_matches(
        session,
        table([(bo, 2, 0.5, 1), (ada, 0, 0.9123456789, 0), (ada, 2, 0.25, 2), (bo, 0, 1.0, 0)]),
        docs,
        now,
    )
    assert written == 4
    ids = [d.id for d in docs]
    assert stored(session) == {
        (ada, ids[0]): (0.912346, list(REASONS[0]), None),
        (ada, ids[2]): (0.25, list(REASONS[2]), None),
        (bo, ids[0]): (1.0, list(REASONS[0]), None),
        (bo, ids[2]): (0.5, list(REASONS[1]), None),
    }
    assert set(session.scalars(select(Match.created_at))) == {now}


def test_a_run_replaces_undelivered_matches_and_keeps_those_in_a_digest(
    session: Session, now: dt.datetime
) -> None:
    ada, bo = people(session, now, ["mamba"], ["diffusion"])
    docs = papers(session, now, 2)
    ids = [d.id for d in docs]
    matching.replace_matches(session, table([(ada, 0, 0.9, 0), (bo, 0, 0.8, 0)]), docs, now)
    digest = Delivery(subscriber_id=ada, kind=DeliveryKind.digest, edition_key="e1",
                      message_id="m1@paperpost.example", paper_ids=[ids[0]], trending_ids=[],
                      payload={})  # fmt: skip
    session.add(digest)
    session.flush()
    session.execute(
        Match.__table__.update()
        .where(Match.subscriber_id == ada, Match.paper_id == ids[0])
        .values(delivery_id=digest.id)
    )
    later = now + dt.timedelta(hours=1)
    rerun = table([(ada, 0, 0.1, 2), (ada, 1, 0.7, 1), (bo, 1, 0.6, 0)])
    assert matching.replace_matches(session, rerun, docs, later) == 2
    assert stored(session) == {
        (ada, ids[0]): (0.9, list(REASONS[0]), digest.id),  # in a digest: kept as it was
        (ada, ids[1]): (0.7, list(REASONS[1]), None),
        (bo, ids[1]): (0.6, list(REASONS[0]), None),  # bo's paper 0 no longer matches
    }


def test_interests_load_grouped_by_text_with_their_holders(
    session: Session, now: dt.datetime
) -> None:
    ada, bo, cy, di = people(
        session, now, ["mamba", "-survey"], ["mamba", "cat:cs.LG"], ["mamba"], ["diffusion"]
    )
    session.get(Subscriber, bo).max_papers = 3  # type: ignore[union-attr]
    session.execute(
        Interest.__table__.update().where(Interest.subscriber_id == cy).values(weight=2)
    )
    unsubscribe(session, session.get(Subscriber, di), now, "test")  # type: ignore[arg-type]
    session.flush()
    found = matching.subscriptions(session)
    assert found.values == ["-survey", "cat:cs.LG", "mamba"]
    assert found.negated == [True, False, False]
    holders = found.holders
    assert holders.indptr.tolist() == [0, 1, 2, 5]
    assert holders.subscribers.tolist() == [ada, bo, ada, bo, cy]
    assert holders.weights.tolist() == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert found.limits is not None
    assert found.limits[[ada, bo, cy]].tolist() == [10, 3, 10]
    some = matching.subscriptions(session, [bo, di])
    assert (some.values, some.holders.subscribers.tolist()) == (["cat:cs.LG", "mamba"], [bo, bo])


def test_erasing_a_subscriber_deletes_their_matches(session: Session, now: dt.datetime) -> None:
    ada, bo = people(session, now, ["mamba"], ["mamba"])
    docs = papers(session, now, 2)
    matching.replace_matches(
        session, table([(ada, 0, 1, 0), (ada, 1, 1, 0), (bo, 0, 1, 0)]), docs, now
    )
    erase_subscriber(session, session.get(Subscriber, ada), now, "test")  # type: ignore[arg-type]
    assert set(stored(session)) == {(bo, docs[0].id)}


def test_pruned_papers_take_their_matches_with_them(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime
) -> None:
    old = now - dt.timedelta(days=400)
    with transaction(factory) as session:
        (ada,) = people(session, now, ["mamba"])
        docs = papers(session, old, 2)
        recent = session.get(Paper, docs[1].id)
        assert recent is not None
        recent.ingested_at = recent.published_at = now  # the other paper is 400 days old
        matching.replace_matches(session, table([(ada, 0, 1, 0), (ada, 1, 1, 0)]), docs, now)
    keep = settings.model_copy(update={"retention_matches_days": 0})
    assert prune(factory, keep, now).pruned["papers"] == 1
    with factory() as session:
        assert set(stored(session)) == {(ada, docs[1].id)}


def test_the_sweep_drops_matches_of_subscribers_and_papers_gone_meanwhile(
    session: Session, now: dt.datetime
) -> None:
    ada, bo, cy = people(session, now, ["mamba"], ["mamba"], ["mamba"])
    docs = papers(session, now, 3)
    rows = table([(ada, 0, 1, 0), (bo, 0, 1, 0), (bo, 1, 1, 0), (cy, 2, 1, 0)])
    matching.replace_matches(session, rows, docs, now)
    # Deleted by transactions that could not see the run's rows (no cascade either way).
    session.execute(delete(Subscriber).where(Subscriber.id == bo))
    session.execute(delete(Paper).where(Paper.id == docs[2].id))
    dropped = matching.drop_orphans(session, rows.subscribers, [d.id for d in docs])
    assert dropped == 3
    assert set(stored(session)) == {(ada, docs[0].id)}


def test_a_run_in_parts_replaces_only_its_subscribers_rows(
    session: Session, now: dt.datetime
) -> None:
    """The job writes a large run a range of subscribers at a time: each part replaces the
    undelivered rows of its own range only."""
    ada, bo, cy = people(session, now, ["mamba"], ["mamba"], ["mamba"])
    docs = papers(session, now, 2)
    first = table([(ada, 0, 1, 0), (bo, 0, 1, 0), (cy, 0, 1, 0)])
    assert matching.replace_matches(session, first, docs, now) == 3
    part = table([(bo, 1, 0.5, 1)])  # bo's range [bo, cy): bo's paper 0 no longer matches
    assert matching.replace_matches(session, part, docs, now, between=(bo, cy)) == 1
    assert stored(session) == {
        (ada, docs[0].id): (1.0, list(REASONS[0]), None),
        (bo, docs[1].id): (0.5, list(REASONS[1]), None),
        (cy, docs[0].id): (1.0, list(REASONS[0]), None),
    }
