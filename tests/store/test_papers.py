"""Paper upsert: one row per arXiv id, fields merged across sources, batched writes.
Runs on the database of the matrix (SQLite, or PostgreSQL with PAPERPOST_TEST_DATABASE)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.ingest import files
from service.ingest.model import Author, RawPaper
from service.store import papers as store
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Base, Paper
from service.store.papers import upsert_papers
from tests.conftest import SAMPLES
from tests.servers import throwaway_postgres


def row(session: Session, arxiv_id: str = "2401.00001") -> Paper:
    session.expire_all()
    return session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()


def clear_pending(session: Session) -> None:
    session.execute(update(Paper).values(match_pending=False))


def test_upsert_is_idempotent(session: Session, now: dt.datetime) -> None:
    papers = files.read(SAMPLES / "hf_daily_papers_2025-09-12.json").papers
    first = upsert_papers(session, papers, now)
    second = upsert_papers(session, papers, now)
    assert (first.new, second.new, second.updated, second.unchanged) == (15, 0, 0, 15)
    assert len(first.new_ids) == 15
    assert session.scalar(select(func.count()).select_from(Paper)) == 15


def test_sources_merge_into_one_row(session: Session, now: dt.datetime) -> None:
    hf = RawPaper("2401.00001", "Title", "hf", summary="abstract", upvotes=5,
                  code_url="https://github.com/x/y", source_id="abc123")  # fmt: skip
    arxiv = RawPaper("2401.00001", "Title", "arxiv", version=2, categories=("cs.CV", "cs.LG"),
                     authors=(Author("Ada", ("Oxford",)),), comment="9 pages")  # fmt: skip
    upsert_papers(session, [hf], now)
    assert row(session).enriched_at is None
    result = upsert_papers(session, [arxiv], now)
    assert result.updated == 1
    paper = row(session)
    assert paper.upvotes == 5 and paper.code_url == "https://github.com/x/y"
    assert paper.categories == ["cs.CV", "cs.LG"] and paper.authors[0]["affiliations"] == ["Oxford"]
    assert paper.sources == ["hf", "arxiv"] and paper.source_ids == {"hf": "abc123"}
    assert paper.comment == "9 pages" and paper.version == 2
    assert paper.match_pending and paper.enriched_at == now  # categories arrived: match again


def test_the_arxiv_record_wins_the_bibliographic_fields(session: Session, now: dt.datetime) -> None:
    arxiv = RawPaper("2401.00001", "Exact Title", "arxiv", summary="The abstract.",
                     authors=(Author("Ada Lovelace", ("Oxford",)),), categories=("cs.LG",))  # fmt: skip
    upsert_papers(session, [arxiv], now)
    clear_pending(session)
    hf = RawPaper("2401.00001", "Exact title (HF)", "hf", summary="Another abstract.",
                  authors=(Author("A. Lovelace"),), upvotes=12)  # fmt: skip
    upsert_papers(session, [hf], now)
    paper = row(session)
    assert (paper.title, paper.summary) == ("Exact Title", "The abstract.")
    assert paper.authors == [{"name": "Ada Lovelace", "affiliations": ["Oxford"]}]
    assert paper.upvotes == 12 and not paper.match_pending


def test_upvotes_move_on_reingest(session: Session, now: dt.datetime) -> None:
    upsert_papers(session, [RawPaper("2401.00001", "T", "hf", upvotes=3)], now)
    clear_pending(session)
    later = now + dt.timedelta(hours=1)
    result = upsert_papers(session, [RawPaper("2401.00001", "T", "hf", upvotes=9)], later)
    paper = row(session)
    assert result.updated == 1 and paper.upvotes == 9 and paper.updated_at == later
    assert not paper.match_pending  # upvotes alone do not need a new match


def test_replacements_update_known_papers_only(session: Session, now: dt.datetime) -> None:
    upsert_papers(session, [RawPaper("2401.00001", "T", "rss", version=1, summary="old")], now)
    clear_pending(session)
    replaced = RawPaper("2401.00001", "T", "rss", version=3, summary="new", update_only=True,
                        announce_type="replace")  # fmt: skip
    unknown = dataclasses.replace(replaced, arxiv_id="2401.00002")
    result = upsert_papers(session, [replaced, unknown], now)
    assert (result.new, result.updated) == (0, 1)
    assert result.skipped == ["2401.00002: replacement of a paper not stored"]
    paper = row(session)
    assert (paper.version, paper.summary, paper.match_pending) == (3, "new", True)
    older = dataclasses.replace(replaced, version=2)
    upsert_papers(session, [older], now)
    assert row(session).version == 3  # versions only go up


def test_duplicates_in_one_batch_become_one_row(session: Session, now: dt.datetime) -> None:
    batch = [
        RawPaper("2401.00001", "T", "hf", upvotes=1),
        RawPaper("2401.00001v2", "T", "hf", upvotes=2),  # not canonical: a different key
        RawPaper("2401.00001", "T", "arxiv", categories=("cs.LG",)),
        RawPaper("2401.00001", "T", "hf", upvotes=4),
    ]
    result = upsert_papers(session, batch, now)
    assert result.new == 2
    paper = row(session)
    assert (paper.upvotes, paper.categories, paper.sources) == (4, ["cs.LG"], ["hf", "arxiv"])


def test_many_papers_in_chunks(session: Session, now: dt.datetime) -> None:
    papers = [RawPaper(f"2401.{i:05d}", f"Paper {i}", "file") for i in range(store.CHUNK * 2 + 7)]
    result = upsert_papers(session, papers, now)
    assert result.new == len(papers) == len(set(result.new_ids))
    moved = [dataclasses.replace(p, upvotes=1) for p in papers[::2]]
    again = upsert_papers(session, [*moved, *papers[1::2]], now)
    assert (again.new, again.updated, again.unchanged) == (0, len(moved), len(papers) // 2)


def test_text_survives_the_round_trip(session: Session, now: dt.datetime) -> None:
    tricky = 'Quotes " and \\ backslash, émoji 🧪, line\u2028separator, <tag> & {"json": 1}'
    paper = RawPaper("2401.00001", tricky, "file", summary=tricky,
                     authors=(Author('O"Brien \\ Ünal', ("Café ☕",)),),
                     published_at=dt.datetime(2024, 5, 28, 17, 47, 19, tzinfo=dt.UTC),
                     trending_date=dt.date(2024, 5, 29))  # fmt: skip
    upsert_papers(session, [paper], now)
    stored = row(session)
    assert stored.title == tricky and stored.summary == tricky
    assert stored.authors == [{"name": 'O"Brien \\ Ünal', "affiliations": ["Café ☕"]}]
    assert stored.published_at == paper.published_at and stored.trending_date == dt.date(
        2024, 5, 29
    )
    assert stored.ingested_at == now


def test_enrichment_bookkeeping(session: Session, now: dt.datetime) -> None:
    upsert_papers(session, [RawPaper("2401.00001", "A", "hf"), RawPaper("2401.00002", "B", "hf"),
                            RawPaper("2401.00003", "C", "arxiv", categories=("cs.LG",))], now)  # fmt: skip
    wanted = store.needing_enrichment(session, ["2401.00001", "2401.00003", "2401.00009"], 3)
    assert wanted == ["2401.00001", "2401.00009"]
    for _ in range(3):
        store.count_enrich_attempt(session, ["2401.00001", "2401.00003"])
    session.expire_all()
    assert row(session, "2401.00001").enrich_attempts == 3
    assert row(session, "2401.00003").enrich_attempts == 0  # already enriched: untouched
    since = now - dt.timedelta(days=1)
    assert store.due_for_enrichment(session, since, 3, 10) == ["2401.00002"]
    assert store.needing_enrichment(session, ["2401.00001"], 3) == []  # gave up


def test_listing_and_finding(session: Session, now: dt.datetime) -> None:
    upsert_papers(session, [RawPaper("2401.00001", "Old", "hf")], now - dt.timedelta(days=3))
    upsert_papers(session, [RawPaper("2401.00002", "New", "arxiv")], now)
    upsert_papers(session, [RawPaper("2401.00002", "New", "hf_mirror")], now)
    listed = store.list_papers(session, since=now - dt.timedelta(days=1), source=None, limit=10)
    assert [p["arxiv_id"] for p in listed] == ["2401.00002"]
    by_source = store.list_papers(session, since=None, source="hf", limit=10)
    assert [p["arxiv_id"] for p in by_source] == ["2401.00001"]  # "hf" is not "hf_mirror"
    found = store.find_paper(session, "2401.00002")
    assert found is not None and found["sources"] == ["arxiv", "hf_mirror"]
    assert store.find_paper(session, "2401.09999") is None


@pytest.mark.integration
def test_overlapping_ingests_merge_instead_of_failing(now: dt.datetime) -> None:
    """Two workers store the same new paper at once: the second waits for the first and merges
    its fields as an update instead of failing on the unique key (PostgreSQL)."""
    with throwaway_postgres() as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        factory = make_sessionmaker(engine)
        results: list[store.UpsertResult] = []
        hf = RawPaper("2401.00001", "T", "hf", upvotes=7)
        arxiv = RawPaper("2401.00001", "T", "arxiv", categories=("cs.CV",))

        def second() -> None:
            with transaction(factory) as session:
                results.append(upsert_papers(session, [arxiv], now))

        with transaction(factory) as first:
            upsert_papers(first, [hf], now)
            worker = threading.Thread(target=second)
            worker.start()
            worker.join(timeout=1.0)
            assert worker.is_alive()  # waiting on the first transaction's new row
        worker.join(timeout=10)
        assert (results[0].new, results[0].updated) == (0, 1)
        with factory() as session:
            paper = row(session)
            assert (paper.upvotes, paper.categories, paper.sources) == (
                7,
                ["cs.CV"],
                ["hf", "arxiv"],
            )
        engine.dispose()


@pytest.mark.integration
def test_overlapping_updates_keep_both_sources_fields(now: dt.datetime) -> None:
    """Two workers merge into the same stored paper at once: the second re-reads the row
    under the first one's lock, so neither source's fields are lost (PostgreSQL)."""
    with throwaway_postgres() as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            upsert_papers(session, [RawPaper("2401.00001", "T", "file")], now)
        hf = RawPaper("2401.00001", "T", "hf", upvotes=7, source_id="abc")
        arxiv = RawPaper("2401.00001", "T", "arxiv", categories=("cs.CV",), comment="9 pages")

        def second() -> None:
            with transaction(factory) as session:
                upsert_papers(session, [arxiv], now)

        with transaction(factory) as first:
            upsert_papers(first, [hf], now)
            worker = threading.Thread(target=second)
            worker.start()
            worker.join(timeout=1.0)
            assert worker.is_alive()  # waiting for the first transaction's row lock
        worker.join(timeout=10)
        with factory() as session:
            paper = row(session)
            assert paper.sources == ["file", "hf", "arxiv"] and paper.source_ids == {"hf": "abc"}
            assert (paper.upvotes, paper.categories, paper.comment) == (7, ["cs.CV"], "9 pages")
        engine.dispose()
