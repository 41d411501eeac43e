"""The match stage's queries: papers as match documents, interests grouped by text, stored
vectors, and matches written in bulk (COPY on PostgreSQL, multi-row inserts elsewhere)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.match.combine import Holders, MatchTable
from service.match.engine import Subscriptions
from service.match.semantic import pack, unpack, vector_key
from service.match.types import PaperDoc
from service.store.models import (
    Interest,
    InterestKind,
    Match,
    Paper,
    Subscriber,
    SubscriberStatus,
    TextVector,
)
from service.store.sql import dialect_name, insert_ignore

_PAPER_COLUMNS = (
    Paper.id,
    Paper.arxiv_id,
    Paper.title,
    Paper.summary,
    Paper.authors,
    Paper.categories,
    Paper.upvotes,
    Paper.published_at,
    Paper.ingested_at,
    Paper.abs_url,
    Paper.embedding,
    Paper.updated_at,
)


def in_window(since: dt.datetime, horizon: dt.datetime | None = None) -> ColumnElement[bool]:
    """Papers published or ingested since ``since``: what the match window holds. A paper
    published before ``horizon`` (the papers' retention age) stays out even when it was
    ingested recently."""
    recent = or_(Paper.published_at >= since, Paper.ingested_at >= since)
    if horizon is None:
        return recent
    return and_(recent, or_(Paper.published_at.is_(None), Paper.published_at >= horizon))


def paper_docs(session: Session, *where: ColumnElement[bool]) -> list[PaperDoc]:
    """Papers meeting any of the conditions, in id order, as match documents."""
    rows = session.execute(select(*_PAPER_COLUMNS).where(or_(*where)).order_by(Paper.id))
    return [_doc(row) for row in rows]


def pending_versions(session: Session) -> dict[int, dt.datetime]:
    """Papers marked for matching, with the version (updated_at) seen now."""
    rows = session.execute(select(Paper.id, Paper.updated_at).where(Paper.match_pending))
    return dict(rows.tuples().all())


def clear_pending(session: Session, seen: Mapping[int, dt.datetime]) -> None:
    """Unmark the papers matched, unless they changed again meanwhile."""
    for paper_id, version in seen.items():
        session.execute(
            update(Paper)
            .where(Paper.id == paper_id, Paper.updated_at == version)
            .values(match_pending=False)
        )


def _doc(row: Any) -> PaperDoc:
    return PaperDoc(
        id=row.id,
        arxiv_id=row.arxiv_id,
        title=row.title,
        summary=row.summary or "",
        authors=tuple(a.get("name", "") for a in row.authors or () if isinstance(a, dict)),
        categories=tuple(row.categories or ()),
        upvotes=row.upvotes or 0,
        published_at=row.published_at,
        ingested_at=row.ingested_at,
        abs_url=row.abs_url,
        embedding=row.embedding,
    )


def subscriptions(session: Session, subscriber_ids: Iterable[int] | None = None) -> Subscriptions:
    """Active subscribers' interests grouped by (text, negated), and each subscriber's digest
    size (the most papers a run keeps for them); optionally only some subscribers."""
    query = (
        select(
            Interest.value,
            Interest.negated,
            Interest.subscriber_id,
            Interest.weight,
            Subscriber.max_papers,
        )
        .join(Subscriber, Subscriber.id == Interest.subscriber_id)
        .where(Subscriber.status == SubscriberStatus.active)
        .order_by(Interest.value, Interest.negated, Interest.subscriber_id)
    )
    if subscriber_ids is not None:
        query = query.where(Interest.subscriber_id.in_(list(subscriber_ids)))
    values: list[str] = []
    negated: list[bool] = []
    starts: list[int] = []
    subs: list[int] = []
    weights: list[float] = []
    limits: dict[int, int] = {}
    rows = session.execute(query.execution_options(yield_per=50_000))
    for value, neg, sub, weight, max_papers in rows:
        if not values or values[-1] != value or negated[-1] != bool(neg):
            values.append(value)
            negated.append(bool(neg))
            starts.append(len(subs))
        subs.append(sub)
        weights.append(weight if weight is not None else 1.0)
        limits[sub] = max_papers or 0
    indptr = np.array([*starts, len(subs)], dtype=np.int64)
    holders = Holders(indptr, np.array(subs, dtype=np.int64), np.array(weights, dtype=np.float64))
    by_id = np.zeros(max(limits, default=0) + 1, dtype=np.int64)
    by_id[list(limits)] = list(limits.values())
    return Subscriptions(values, negated, holders, by_id)


def backfill_subscribers(session: Session) -> list[int]:
    """Active subscribers with a new or edited interest not yet run against recent papers."""
    rows = session.scalars(
        select(Interest.subscriber_id)
        .join(Subscriber, Subscriber.id == Interest.subscriber_id)
        .where(Interest.backfill_pending, Subscriber.status == SubscriberStatus.active)
        .distinct()
    )
    return sorted(rows)


def finish_backfill(session: Session, subscriber_ids: Sequence[int]) -> None:
    for start in range(0, len(subscriber_ids), 1_000):
        chunk = subscriber_ids[start : start + 1_000]
        session.execute(
            update(Interest).where(Interest.subscriber_id.in_(chunk)).values(backfill_pending=False)
        )


def has_descriptions(session: Session) -> bool:
    found = session.scalar(
        select(Interest.id)
        .join(Subscriber, Subscriber.id == Interest.subscriber_id)
        .where(Interest.kind == InterestKind.text, Subscriber.status == SubscriberStatus.active)
        .limit(1)
    )
    return found is not None


def store_paper_vectors(session: Session, vectors: Mapping[int, bytes]) -> None:
    if vectors:
        session.execute(
            update(Paper), [{"id": pid, "embedding": blob} for pid, blob in vectors.items()]
        )


def description_values(session: Session) -> list[str]:
    """The distinct text of active subscribers' description interests."""
    rows = session.scalars(
        select(Interest.value)
        .join(Subscriber, Subscriber.id == Interest.subscriber_id)
        .where(Interest.kind == InterestKind.text, Subscriber.status == SubscriberStatus.active)
        .distinct()
    )
    return list(rows)


def text_vectors(session: Session, texts: Iterable[str]) -> dict[str, np.ndarray]:
    """The stored vectors of these descriptions (absent ones are left out)."""
    by_key = {vector_key(text): text for text in texts}
    found: dict[str, np.ndarray] = {}
    keys = list(by_key)
    for start in range(0, len(keys), 1_000):
        rows = session.execute(
            select(TextVector.key, TextVector.vector).where(
                TextVector.key.in_(keys[start : start + 1_000])
            )
        )
        for key, blob in rows:
            vector = unpack(blob, by_key[key])
            if vector is not None:
                found[by_key[key]] = vector
    return found


def store_text_vectors(
    session: Session, vectors: Mapping[str, np.ndarray], now: dt.datetime
) -> None:
    rows = [
        {"key": vector_key(text), "vector": pack(vector, text), "created_at": now}
        for text, vector in vectors.items()
    ]
    for start in range(0, len(rows), 1_000):
        session.execute(insert_ignore(session, TextVector), rows[start : start + 1_000])


def replace_matches(
    session: Session,
    table: MatchTable,
    papers: Sequence[PaperDoc],
    now: dt.datetime,
    subscriber_ids: Sequence[int] | None = None,
) -> int:
    """Write the run's matches. Undelivered matches of these papers (and, for a backfill, of
    these subscribers) are replaced; matches already in a digest are kept as they are."""
    paper_ids = [p.id for p in papers]
    held: set[tuple[int, int]] = set()
    for start in range(0, len(paper_ids), 1_000):
        chunk = paper_ids[start : start + 1_000]
        scope = [Match.paper_id.in_(chunk)]
        if subscriber_ids is not None:
            scope.append(Match.subscriber_id.in_(subscriber_ids))
        session.execute(delete(Match).where(*scope, Match.delivery_id.is_(None)))
        rows = session.execute(select(Match.subscriber_id, Match.paper_id).where(*scope))
        held.update((s, p) for s, p in rows)
    if not len(table):
        return 0
    ids = np.array(paper_ids, dtype=np.int64)[table.papers]
    keep = np.ones(len(table), dtype=bool)
    if held:  # a digest already holds these: keep its row, skip ours
        taken = np.array([s * (1 << 32) + p for s, p in held], dtype=np.int64)
        keep = ~np.isin(table.subscribers * (1 << 32) + ids, taken)
    reasons = [json.dumps(list(r), ensure_ascii=False) for r in table.reasons]
    if dialect_name(session) == "postgresql":
        return _copy_matches(session, table, ids, keep, reasons, now)
    return _insert_matches(session, table, ids, keep, reasons, now)


def _rows(
    table: MatchTable, ids: np.ndarray, keep: np.ndarray, reasons: list[str]
) -> Iterable[tuple[int, int, float, str]]:
    order = np.flatnonzero(keep)
    order = order[np.lexsort((ids[order], table.subscribers[order]))]  # index order: faster
    return zip(
        table.subscribers[order].tolist(),
        ids[order].tolist(),
        table.scores[order].round(6).tolist(),
        (reasons[r] for r in table.reason_ids[order].tolist()),
        strict=True,
    )


def _insert_matches(
    session: Session,
    table: MatchTable,
    ids: np.ndarray,
    keep: np.ndarray,
    reasons: list[str],
    now: dt.datetime,
) -> int:
    written = 0
    batch: list[dict[str, Any]] = []
    for sub, pid, score, why in _rows(table, ids, keep, reasons):
        batch.append(
            {"subscriber_id": sub, "paper_id": pid, "score": score, "reasons": json.loads(why),
             "created_at": now}
        )  # fmt: skip
        if len(batch) == 5_000:
            written += _insert_batch(session, batch)
            batch = []
    return written + (_insert_batch(session, batch) if batch else 0)


def _insert_batch(session: Session, batch: list[dict[str, Any]]) -> int:
    session.execute(insert_ignore(session, Match), batch)
    return len(batch)


def _copy_matches(
    session: Session,
    table: MatchTable,
    ids: np.ndarray,
    keep: np.ndarray,
    reasons: list[str],
    now: dt.datetime,
) -> int:
    """COPY straight into the table (rows a digest holds were filtered out above), in text
    chunks built without a Python call per field."""
    stamp = now.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    escaped = [_copy_text(r) for r in reasons]
    cursor = session.connection().connection.cursor()
    written = 0
    with cursor.copy(
        "COPY matches (subscriber_id, paper_id, score, reasons, created_at) FROM STDIN"
    ) as copy:
        lines: list[str] = []
        for sub, pid, score, why in _rows(table, ids, keep, escaped):
            lines.append(f"{sub}\t{pid}\t{score}\t{why}\t{stamp}\n")
            if len(lines) == 50_000:
                copy.write("".join(lines))
                written += len(lines)
                lines = []
        copy.write("".join(lines))
        written += len(lines)
    return written


def _copy_text(value: str) -> str:
    """A value for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def match_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Match)) or 0)
