"""Paper upsert: one row per canonical arXiv id, fields merged across sources, in batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from service.ingest.model import RawPaper
from service.store.models import Paper

CHUNK = 1_000
# A change to these means the paper must be matched again.
MATCH_FIELDS = ("title", "summary", "categories")
# Fields copied from a RawPaper when the source knows them (non-empty).
SCALAR_FIELDS = (
    "title", "summary", "version", "primary_category", "abs_url", "pdf_url", "hf_url",
    "code_url", "project_url", "thumbnail_url", "comment", "journal_ref", "doi",
    "organization", "ai_summary", "upvotes", "num_comments", "github_stars", "published_at",
    "trending_date",
)  # fmt: skip


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)


def upsert_papers(session: Session, papers: Iterable[RawPaper], now: dt.datetime) -> UpsertResult:
    result = UpsertResult()
    for chunk in _chunks(_dedupe(papers), CHUNK):
        _upsert_chunk(session, chunk, now, result)
    return result


def _dedupe(papers: Iterable[RawPaper]) -> list[RawPaper]:
    """Within one batch, later items merge over earlier ones with the same id."""
    merged: dict[str, RawPaper] = {}
    for paper in papers:
        prior = merged.get(paper.arxiv_id)
        merged[paper.arxiv_id] = paper if prior is None else _merge_raw(prior, paper)
    return list(merged.values())


def _merge_raw(old: RawPaper, new: RawPaper) -> RawPaper:
    changes = {k: v for k, v in _known_fields(new).items() if v not in (None, (), "")}
    return dataclasses.replace(old, **changes, update_only=old.update_only and new.update_only)


def _known_fields(paper: RawPaper) -> dict[str, Any]:
    return {f.name: getattr(paper, f.name) for f in dataclasses.fields(paper)}


def _upsert_chunk(
    session: Session, chunk: Sequence[RawPaper], now: dt.datetime, result: UpsertResult
) -> None:
    ids = [p.arxiv_id for p in chunk]
    existing = {
        row.arxiv_id: row
        for row in session.execute(select(Paper.__table__).where(Paper.arxiv_id.in_(ids)))
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for paper in chunk:
        row = existing.get(paper.arxiv_id)
        if row is None:
            if paper.update_only:
                result.skipped.append(f"{paper.arxiv_id}: replacement of a paper not stored")
            else:
                inserts.append(_new_row(paper, now))
            continue
        changes = _changes(row._mapping, paper)
        if not changes:
            result.unchanged += 1
            continue
        if any(name in changes for name in MATCH_FIELDS):
            changes["match_pending"] = True
        updates.append({"id": row.id, "updated_at": now, **changes})
    if inserts:
        new_ids = session.scalars(insert(Paper).returning(Paper.id), inserts).all()
        result.new += len(inserts)
        result.new_ids.extend(new_ids)
    if updates:
        for group in _group_by_keys(updates):
            session.execute(update(Paper), group)
        result.updated += len(updates)


def _new_row(paper: RawPaper, now: dt.datetime) -> dict[str, Any]:
    row = {name: getattr(paper, name) for name in SCALAR_FIELDS}
    row.update(
        arxiv_id=paper.arxiv_id,
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
    )
    return row


def _author_json(author: Any) -> dict[str, Any]:
    return {"name": author.name, "affiliations": list(author.affiliations)}


def _changes(current: Any, paper: RawPaper) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in SCALAR_FIELDS:
        value = getattr(paper, name)
        if value not in (None, "") and value != current[name]:
            changes[name] = value
    if paper.categories and list(paper.categories) != current["categories"]:
        changes["categories"] = list(paper.categories)
        if current["enriched_at"] is None:
            changes["enriched_at"] = dt.datetime.now(dt.UTC)
    authors = [_author_json(a) for a in paper.authors]
    if authors and authors != current["authors"] and _better_authors(authors, current["authors"]):
        changes["authors"] = authors
    if paper.ai_keywords and list(paper.ai_keywords) != current["ai_keywords"]:
        changes["ai_keywords"] = list(paper.ai_keywords)
    if paper.source not in current["sources"]:
        changes["sources"] = [*current["sources"], paper.source]
    if paper.source_id and current["source_ids"].get(paper.source) != paper.source_id:
        changes["source_ids"] = {**current["source_ids"], paper.source: paper.source_id}
    return changes


def _better_authors(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> bool:
    """Affiliations (arXiv) are worth keeping over a bare name list (HF)."""
    return any(a["affiliations"] for a in new) or not any(a["affiliations"] for a in old)


def _group_by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Bulk UPDATE needs the same columns in each parameter set."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _chunks(items: Sequence[RawPaper], size: int) -> Iterable[Sequence[RawPaper]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
