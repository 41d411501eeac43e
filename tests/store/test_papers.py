from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.ingest import files
from service.ingest.model import Author, RawPaper
from service.store.models import Paper
from service.store.papers import upsert_papers
from tests.conftest import SAMPLES


def test_upsert_is_idempotent(session: Session, now: dt.datetime) -> None:
    papers = files.read(SAMPLES / "hf_daily_papers_2025-09-12.json").papers
    first = upsert_papers(session, papers, now)
    second = upsert_papers(session, papers, now)
    assert (first.new, second.new, second.updated, second.unchanged) == (15, 0, 0, 15)
    assert session.scalar(select(func.count()).select_from(Paper)) == 15


def test_sources_merge_into_one_row(session: Session, now: dt.datetime) -> None:
    hf = RawPaper(
        "2401.00001",
        "Title",
        "hf",
        summary="abstract",
        upvotes=5,
        code_url="https://github.com/x/y",
    )
    arxiv = RawPaper("2401.00001", "Title", "arxiv", version=2, categories=("cs.CV", "cs.LG"),
                     authors=(Author("Ada", ("Oxford",)),))  # fmt: skip
    upsert_papers(session, [hf], now)
    result = upsert_papers(session, [arxiv], now)
    assert result.updated == 1
    paper = session.scalars(select(Paper)).one()
    assert paper.upvotes == 5 and paper.code_url == "https://github.com/x/y"
    assert paper.categories == ["cs.CV", "cs.LG"] and paper.authors[0]["affiliations"] == ["Oxford"]
    assert set(paper.sources) == {"hf", "arxiv"}
    assert paper.match_pending  # categories changed: match again


def test_upvotes_move_on_reingest(session: Session, now: dt.datetime) -> None:
    upsert_papers(session, [RawPaper("2401.00001", "T", "hf", upvotes=3)], now)
    session.execute(Paper.__table__.update().values(match_pending=False))
    upsert_papers(session, [RawPaper("2401.00001", "T", "hf", upvotes=9)], now)
    paper = session.scalars(select(Paper)).one()
    assert paper.upvotes == 9
    assert not paper.match_pending  # upvotes alone do not need a new match
