"""Papers: one row per canonical arXiv id, fields merged across sources, written in batches.

``upsert_papers`` reads each chunk of ids in one SELECT, merges in memory and writes with one
bulk INSERT ... ON CONFLICT DO NOTHING and one bulk UPDATE per column set (``store.bulk``): no
per-paper round trips. On PostgreSQL the rows are read under a row lock, in arXiv-id order, so
two ingests that overlap neither deadlock nor lose each other's fields; a row that a concurrent
ingest inserted first is merged as an update.

Merging: bibliographic fields (title, abstract, authors, categories...) come from the most
authoritative source that has seen the paper (arXiv API and files > announcement feeds > HF);
live fields (upvotes, comments, GitHub link and stars, HF links) follow the latest source that
knows them, so trending moves during the day. A change of title, abstract or categories marks
the paper for matching again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, Table, cast, func, or_, select, update
from sqlalchemy.orm import Session

from service.ingest.ids import LOCAL_ARCHIVE, is_local
from service.ingest.memory import gc_paused
from service.ingest.model import Author, RawPaper
from service.store.bulk import insert_ignore_many, update_many
from service.store.models import Paper

CHUNK = 2_000
MATCH_FIELDS = ("title", "summary", "categories")
RANK = {"arxiv": 3, "file": 3, "rss": 2, "hf": 1}
BIBLIOGRAPHIC = (
    "title", "summary", "primary_category", "abs_url", "pdf_url", "comment", "journal_ref",
    "doi", "published_at",
)  # fmt: skip
LIVE = (
    "hf_url", "code_url", "project_url", "thumbnail_url", "organization", "ai_summary",
    "upvotes", "num_comments", "github_stars", "trending_date",
)  # fmt: skip
_TABLE: Table = Paper.__table__  # type: ignore[assignment]
_COLUMNS = [c.name for c in _TABLE.columns if c.name not in ("id", "embedding")]


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)


def upsert_papers(session: Session, papers: Iterable[RawPaper], now: dt.datetime) -> UpsertResult:
    result = UpsertResult()
    grouped: dict[str, list[RawPaper]] = {}
    for paper in papers:
        grouped.setdefault(paper.arxiv_id, []).append(paper)
    ids = sorted(grouped)
    with gc_paused():
        for start in range(0, len(ids), CHUNK):
            chunk = {arxiv_id: grouped[arxiv_id] for arxiv_id in ids[start : start + CHUNK]}
            _upsert_chunk(session, chunk, now, result)
    return result


def _upsert_chunk(
    session: Session, chunk: dict[str, list[RawPaper]], now: dt.datetime, result: UpsertResult
) -> None:
    existing = _load(session, list(chunk))
    inserts: dict[str, dict[str, Any]] = {}
    for arxiv_id, papers in chunk.items():
        if arxiv_id in existing:
            continue
        state = _first_row(papers, now, result)
        if state is not None:
            inserts[arxiv_id] = state
    if inserts:
        lost = _insert(session, inserts, result)
        existing.update(_load(session, lost))  # inserted meanwhile by a concurrent ingest
    updates = [
        change
        for arxiv_id, row in existing.items()
        if (change := _change(row, chunk[arxiv_id], now)) is not None
    ]
    result.unchanged += len(existing) - len(updates)
    for group in _by_columns(updates):
        update_many(session, _TABLE, group)
    result.updated += len(updates)


def _load(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The rows of these ids, locked (PostgreSQL) in arXiv-id order until the commit. NO KEY
    UPDATE: the match job may still insert matches that refer to these papers meanwhile."""
    if not ids:
        return {}
    query = (
        select(*(_TABLE.c[name] for name in ["id", *_COLUMNS]))
        .where(_TABLE.c.arxiv_id.in_(ids))
        .order_by(_TABLE.c.arxiv_id)
        .with_for_update(key_share=True)
    )
    return {row.arxiv_id: dict(row._mapping) for row in session.execute(query)}


def _insert(session: Session, rows: dict[str, dict[str, Any]], result: UpsertResult) -> list[str]:
    """Insert what is new; returns the ids a concurrent transaction inserted first."""
    stored = insert_ignore_many(session, _TABLE, list(rows.values()), ("id", "arxiv_id"))
    result.new += len(stored)
    result.new_ids.extend(paper_id for paper_id, _ in stored)
    return sorted(set(rows) - {arxiv_id for _, arxiv_id in stored})


def _first_row(
    papers: list[RawPaper], now: dt.datetime, result: UpsertResult
) -> dict[str, Any] | None:
    state: dict[str, Any] | None = None
    for paper in papers:
        if state is not None:
            _apply(state, paper, now)
        elif paper.update_only:
            result.skipped.append(f"{paper.arxiv_id}: replacement of a paper not stored")
        else:
            state = _new_row(paper, now)
    return state


def _new_row(paper: RawPaper, now: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(paper, name) for name in BIBLIOGRAPHIC + LIVE}
    row.update(
        arxiv_id=paper.arxiv_id,
        version=paper.version,
        authors=[_author_json(a) for a in paper.authors],
        categories=list(paper.categories),
        ai_keywords=list(paper.ai_keywords),
        upvotes=paper.upvotes or 0,
        num_comments=paper.num_comments or 0,
        sources=[paper.source],
        source_ids={paper.source: paper.source_id} if paper.source_id else {},
        ingested_at=now,
        updated_at=now,
        match_pending=True,
        enriched_at=now if paper.categories else None,
        enrich_attempts=0,
    )
    return row


def _change(row: dict[str, Any], papers: list[RawPaper], now: dt.datetime) -> dict[str, Any] | None:
    state = dict(row)
    for paper in papers:
        _apply(state, paper, now)
    changes = {k: v for k, v in state.items() if v != row[k]}
    if not changes:
        return None
    if any(name in changes for name in MATCH_FIELDS):
        changes["match_pending"] = True
    return {"id": row["id"], **changes, "updated_at": now}


def _apply(state: dict[str, Any], paper: RawPaper, now: dt.datetime) -> None:
    """Merge what ``paper`` knows into a row's values, in place."""
    ranks = [RANK.get(s, 2) for s in state["sources"]]
    authoritative = RANK.get(paper.source, 2) >= max(ranks, default=0)
    for name in BIBLIOGRAPHIC:
        value = getattr(paper, name)
        if value not in (None, "") and (authoritative or state[name] in (None, "")):
            state[name] = value
    for name in LIVE:
        value = getattr(paper, name)
        if value not in (None, ""):
            state[name] = value
    if paper.version and (state["version"] is None or paper.version > state["version"]):
        state["version"] = paper.version
    if paper.categories and (authoritative or not state["categories"]):
        state["categories"] = list(paper.categories)
    authors = [_author_json(a) for a in paper.authors]
    if authors and (authoritative or not state["authors"] or _adds_affiliations(authors, state)):
        state["authors"] = authors
    if paper.ai_keywords:
        state["ai_keywords"] = list(paper.ai_keywords)
    if paper.source not in state["sources"]:
        state["sources"] = [*state["sources"], paper.source]
    if paper.source_id and state["source_ids"].get(paper.source) != paper.source_id:
        state["source_ids"] = {**state["source_ids"], paper.source: paper.source_id}
    if state["categories"] and state["enriched_at"] is None:
        state["enriched_at"] = now


def _adds_affiliations(authors: list[dict[str, Any]], state: dict[str, Any]) -> bool:
    old = state["authors"]
    return any(a["affiliations"] for a in authors) and not any(a["affiliations"] for a in old)


def _author_json(author: Author) -> dict[str, Any]:
    return {"name": author.name, "affiliations": list(author.affiliations)}


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """An executemany UPDATE needs the same columns in each parameter set."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


# Enrichment bookkeeping ------------------------------------------------------------------


def needing_enrichment(session: Session, arxiv_ids: Sequence[str], max_attempts: int) -> list[str]:
    """Of these ids, the ones with no arXiv categories yet (absent rows included); papers
    with a local id are not on arXiv."""
    arxiv_ids = [i for i in arxiv_ids if not is_local(i)]
    done = set(
        session.scalars(
            select(Paper.arxiv_id).where(
                Paper.arxiv_id.in_(arxiv_ids),
                or_(Paper.enriched_at.is_not(None), Paper.enrich_attempts >= max_attempts),
            )
        )
    )
    return [i for i in dict.fromkeys(arxiv_ids) if i not in done]


def due_for_enrichment(
    session: Session, since: dt.datetime, max_attempts: int, limit: int
) -> list[str]:
    """Papers ingested since ``since`` whose arXiv lookup has not succeeded yet."""
    query = (
        select(Paper.arxiv_id)
        .where(
            Paper.enriched_at.is_(None),
            Paper.enrich_attempts < max_attempts,
            Paper.ingested_at >= since,
            Paper.arxiv_id.not_like(LOCAL_ARCHIVE + "/%"),
        )
        .order_by(Paper.ingested_at.desc(), Paper.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def count_enrich_attempt(session: Session, arxiv_ids: Sequence[str]) -> None:
    """One more failed lookup for each id (found ids got ``enriched_at`` from their merge)."""
    if arxiv_ids:
        session.execute(
            update(Paper)
            .where(Paper.arxiv_id.in_(arxiv_ids), Paper.enriched_at.is_(None))
            .values(enrich_attempts=Paper.enrich_attempts + 1)
            .execution_options(synchronize_session=False)
        )


# Reading, for the CLI and operators -------------------------------------------------------


def list_papers(
    session: Session, *, since: dt.datetime | None, source: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(Paper).order_by(Paper.ingested_at.desc(), Paper.id.desc()).limit(limit)
    if since is not None:
        query = query.where(Paper.ingested_at >= since)
    if source is not None:
        # JSON list membership, the same on SQLite and PostgreSQL: the quoted name in its text.
        query = query.where(cast(Paper.sources, String).like(f'%"{_like(source)}"%', escape="\\"))
    return [paper_record(p) for p in session.scalars(query)]


def find_paper(session: Session, arxiv_id: str) -> dict[str, Any] | None:
    paper = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
    return None if paper is None else paper_record(paper)


def count_papers(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Paper)) or 0)


def paper_record(p: Paper) -> dict[str, Any]:
    return {
        "id": p.id, "arxiv_id": p.arxiv_id, "version": p.version, "title": p.title,
        "summary": p.summary, "authors": p.authors, "categories": p.categories,
        "primary_category": p.primary_category, "abs_url": p.abs_url, "pdf_url": p.pdf_url,
        "hf_url": p.hf_url, "code_url": p.code_url, "project_url": p.project_url,
        "thumbnail_url": p.thumbnail_url, "comment": p.comment, "journal_ref": p.journal_ref,
        "doi": p.doi, "organization": p.organization, "ai_summary": p.ai_summary,
        "ai_keywords": p.ai_keywords, "upvotes": p.upvotes, "num_comments": p.num_comments,
        "github_stars": p.github_stars, "sources": p.sources, "published_at": p.published_at,
        "trending_date": p.trending_date, "ingested_at": p.ingested_at,
        "updated_at": p.updated_at, "enriched_at": p.enriched_at,
        "enrich_attempts": p.enrich_attempts, "match_pending": p.match_pending,
    }  # fmt: skip


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', "")
