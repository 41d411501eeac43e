"""The match stage's queries: papers as match documents, interests grouped by text, stored
vectors, and matches written in bulk (COPY on PostgreSQL, multi-row inserts elsewhere)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
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
    """Unmark the papers matched, unless they changed again meanwhile (one executemany)."""
    if not seen:
        return
    papers = Paper.__table__
    assert isinstance(papers, Table)
    session.execute(
        papers.update()
        .where(papers.c.id == bindparam("pid"), papers.c.updated_at == bindparam("seen_at"))
        .values(match_pending=False),
        [{"pid": pid, "seen_at": version} for pid, version in seen.items()],
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
    """Active subscribers' interests grouped by (text, negated), in text order, and each
    subscriber's digest size (the most papers a run keeps for them); optionally only some
    subscribers."""
    if dialect_name(session) == "postgresql":
        return _grouped_subscriptions(session, subscriber_ids)
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


_GROUPED = """
SELECT value, negated, substr(array_send(array_agg(subscriber_id)), 21),
       substr(array_send(array_agg(coalesce(weight, 1.0))), 21)
FROM interests {only}
GROUP BY value, negated
ORDER BY value COLLATE "C", negated
"""
_ACTIVE = """
SELECT substr(array_send(array_agg(id)), 21),
       substr(array_send(array_agg(coalesce(max_papers, 0))), 21)
FROM subscribers WHERE status = 'active' {only}
"""


def _grouped_subscriptions(session: Session, subscriber_ids: Iterable[int] | None) -> Subscriptions:
    """PostgreSQL groups the millions of interest rows itself and sends each distinct interest
    once, in text (code point) order, its holders as binary arrays read straight into numpy;
    holders who are not active are dropped here rather than by a join there."""
    connection = session.connection().connection
    ids = None if subscriber_ids is None else [int(i) for i in subscriber_ids]
    params = None if ids is None else [ids]
    cursor = connection.cursor(binary=True)
    cursor.execute(_ACTIVE.format(only="" if ids is None else "AND id = ANY(%s)"), params)
    found: tuple[bytes | None, bytes | None] = cursor.fetchone() or (None, None)
    active, most = found
    if active is None or most is None:
        return Subscriptions([], [], Holders.of([]), np.zeros(1, dtype=np.int64))
    people, sizes = _int_arrays([active]), _int_arrays([most])
    limits = np.zeros(int(people.max()) + 1, dtype=np.int64)
    limits[people] = sizes
    where = "" if ids is None else "WHERE subscriber_id = ANY(%s)"
    values, negated, subs, weights, counts = _interest_groups(connection, where, params)
    group = np.repeat(np.arange(len(values)), counts)
    is_active = np.zeros(max(len(limits), int(subs.max(initial=0)) + 1), dtype=bool)
    is_active[people] = True
    kept = np.flatnonzero(is_active[subs])
    order = kept[np.lexsort((subs[kept], group[kept]))]  # by interest, holders by id
    counts = np.bincount(group[order], minlength=len(values))
    held = np.flatnonzero(counts).tolist()  # interests with an active holder
    indptr = np.concatenate([[0], np.cumsum(counts[held])]).astype(np.int64)
    return Subscriptions(
        [values[i] for i in held],
        [negated[i] for i in held],
        Holders(indptr, subs[order], weights[order]),
        limits,
    )


def _interest_groups(
    connection: Any, where: str, params: list[list[int]] | None
) -> tuple[list[str], list[bool], np.ndarray, np.ndarray, np.ndarray]:
    """Values, negations, then holders, weights and holder counts as arrays; fetched in
    batches through a server-side cursor, so the client never holds the whole result (whose
    memory, freed in small pieces, would stay with the process)."""
    values: list[str] = []
    negated: list[bool] = []
    subs, weights, counts = [np.zeros(0, np.int64)], [np.zeros(0)], [np.zeros(0, np.int64)]
    with connection.cursor("paperpost_interests", binary=True) as cursor:
        cursor.execute(_GROUPED.format(only=where), params)
        while rows := cursor.fetchmany(20_000):
            values.extend(r[0] for r in rows)
            negated.extend(bool(r[1]) for r in rows)
            subs.append(_int_arrays([r[2] for r in rows]))
            weights.append(_float_arrays([r[3] for r in rows]))
            counts.append(np.fromiter((len(r[2]) // 8 for r in rows), np.int64, len(rows)))
    return values, negated, np.concatenate(subs), np.concatenate(weights), np.concatenate(counts)


# The arrays come as array_send output less its 20-byte header (substr(..., 21)): each
# element its length (int32) then its value, big-endian.


def _int_arrays(blobs: Sequence[bytes]) -> np.ndarray:
    """The int4 elements of many headless array_send values, concatenated."""
    return np.frombuffer(b"".join(blobs), dtype=">i4")[1::2].astype(np.int64)


def _float_arrays(blobs: Sequence[bytes]) -> np.ndarray:
    """The float8 elements of many headless array_send values, concatenated."""
    element = np.dtype([("length", ">i4"), ("value", ">f8")])
    return np.frombuffer(b"".join(blobs), dtype=element)["value"].astype(np.float64)


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
    between: tuple[int | None, int | None] = (None, None),
) -> int:
    """Write the run's matches. Undelivered matches of these papers (and of these subscribers,
    or of those with ids from ``between[0]`` up to ``between[1]``, when given) are replaced;
    matches already in a digest are kept as they are."""
    scope: list[ColumnElement[bool]] = []
    if subscriber_ids is not None:
        scope.append(Match.subscriber_id.in_(subscriber_ids))
    if between[0] is not None:
        scope.append(Match.subscriber_id >= between[0])
    if between[1] is not None:
        scope.append(Match.subscriber_id < between[1])
    held = _clear_undelivered(session, [p.id for p in papers], scope)
    if not len(table):
        return 0
    ids = np.array([p.id for p in papers], dtype=np.int64)[table.papers]
    keys = table.subscribers * (1 << 32) + ids
    rows = np.flatnonzero(~np.isin(keys, held)) if len(held) else np.arange(len(table))
    rows = rows[np.argsort(keys[rows], kind="stable")]  # key order: appends to the index
    reasons = [json.dumps(list(r), ensure_ascii=False) for r in table.reasons]
    by_id = MatchTable(table.subscribers, ids, table.scores, table.reason_ids, table.reasons)
    if dialect_name(session) == "postgresql":
        return _copy_matches(session, by_id, rows, reasons, now)
    return _insert_matches(session, by_id, rows, reasons, now)


def _clear_undelivered(
    session: Session, paper_ids: Sequence[int], scope: Sequence[ColumnElement[bool]]
) -> np.ndarray:
    """Delete the undelivered matches of these papers in scope; the keys (subscriber << 32 |
    paper) of the delivered ones, which a digest holds and the run must not write again."""
    held: list[int] = []
    for start in range(0, len(paper_ids), 1_000):
        where = [Match.paper_id.in_(paper_ids[start : start + 1_000]), *scope]
        session.execute(delete(Match).where(*where, Match.delivery_id.is_(None)))
        rows = session.execute(select(Match.subscriber_id, Match.paper_id).where(*where))
        held.extend(s * (1 << 32) + p for s, p in rows)
    return np.array(held, dtype=np.int64)


def _insert_matches(
    session: Session, table: MatchTable, rows: np.ndarray, reasons: list[str], now: dt.datetime
) -> int:
    """SQLite (and any other database): multi-row inserts of 5,000. ``table.papers`` holds
    paper ids here."""
    parsed = [json.loads(r) for r in reasons]
    columns = zip(
        table.subscribers[rows].tolist(),
        table.papers[rows].tolist(),
        table.scores[rows].round(6).tolist(),
        table.reason_ids[rows].tolist(),
        strict=True,
    )
    batch: list[dict[str, Any]] = []
    for sub, pid, score, why in columns:
        batch.append(
            {"subscriber_id": sub, "paper_id": pid, "score": score, "reasons": parsed[why],
             "created_at": now}
        )  # fmt: skip
        if len(batch) == 5_000:
            session.execute(insert_ignore(session, Match), batch)
            batch = []
    if batch:
        session.execute(insert_ignore(session, Match), batch)
    return len(rows)


_COPY = (
    "COPY matches (subscriber_id, paper_id, score, created_at, reasons) FROM STDIN (FORMAT binary)"
)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # then rows, then -1 as the field count
_FIXED = np.dtype(  # each row's fields before its reasons: (length, value) pairs, big-endian
    [("fields", ">i2"), ("subscriber_length", ">i4"), ("subscriber", ">i4"),
     ("paper_length", ">i4"), ("paper", ">i4"), ("score_length", ">i4"), ("score", ">f8"),
     ("at_length", ">i4"), ("at", ">i8")]
)  # fmt: skip
_COPY_ROWS = 100_000
_EPOCH = dt.datetime(2000, 1, 1)  # PostgreSQL's binary timestamps: microseconds since


def _copy_matches(
    session: Session, table: MatchTable, rows: np.ndarray, reasons: list[str], now: dt.datetime
) -> int:
    """Binary COPY straight into the table (rows a digest holds were left out above;
    ``table.papers`` holds paper ids). The rows are laid out by numpy, a chunk ahead in a
    thread while the connection sends the previous one: the server sets the pace."""
    at = (now.astimezone(dt.UTC).replace(tzinfo=None) - _EPOCH) // dt.timedelta(microseconds=1)
    blobs = [len(e).to_bytes(4, "big") + e for e in (r.encode() for r in reasons)]
    parts = [rows[i : i + _COPY_ROWS] for i in range(0, len(rows), _COPY_ROWS)]
    cursor = session.connection().connection.cursor()
    with ThreadPoolExecutor(1) as ahead, cursor.copy(_COPY) as copy:
        copy.write(_COPY_SIGNATURE)
        coming = [ahead.submit(_binary_rows, table, part, blobs, at) for part in parts[:1]]
        for following in [*parts[1:], None]:
            chunk = coming.pop().result()
            if following is not None:
                coming.append(ahead.submit(_binary_rows, table, following, blobs, at))
            copy.write(chunk)
        copy.write(b"\xff\xff")
    return len(rows)


def _binary_rows(table: MatchTable, rows: np.ndarray, blobs: list[bytes], at: int) -> bytes:
    """COPY binary rows: the fixed fields from a structured array, then the reasons (length
    and JSON text), interleaved by one gather over both."""
    fixed = np.zeros(len(rows), dtype=_FIXED)
    fixed["fields"] = 5
    fixed["subscriber_length"], fixed["paper_length"] = 4, 4
    fixed["score_length"], fixed["at_length"] = 8, 8
    fixed["subscriber"], fixed["paper"] = table.subscribers[rows], table.papers[rows]
    fixed["score"], fixed["at"] = table.scores[rows].round(6), at
    pool = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    lengths = np.array([len(b) for b in blobs], dtype=np.int64)
    which = table.reason_ids[rows]
    # Segments alternate: row i's fixed fields, then its reasons' bytes in the pool.
    width = _FIXED.itemsize
    size = np.empty(2 * len(rows), dtype=np.int64)
    size[0::2], size[1::2] = width, lengths[which]
    source = np.empty(2 * len(rows), dtype=np.int64)
    source[0::2] = np.arange(len(rows)) * width
    source[1::2] = len(rows) * width + (np.cumsum(lengths) - lengths)[which]
    offset = np.cumsum(size) - size
    index = np.repeat(source - offset, size) + np.arange(int(size.sum()))
    return np.concatenate([fixed.view(np.uint8), pool])[index].tobytes()


def drop_orphans(session: Session, subscribers: np.ndarray, paper_ids: Sequence[int]) -> int:
    """Delete matches just written for subscribers erased, or papers pruned, while the run was
    writing them: with no foreign key, nothing else stops them. Called after the run commits,
    so an erasure committed meanwhile is seen."""
    if not len(subscribers):
        return 0
    written = np.sort(subscribers)  # the run's rows are grouped by subscriber already
    written = written[np.r_[True, written[1:] != written[:-1]]]
    present = _subscriber_ids(session, int(written[0]), int(written[-1]))
    at = np.minimum(np.searchsorted(present, written), max(len(present) - 1, 0))
    gone = written[present[at] != written].tolist() if len(present) else written.tolist()
    kept: set[int] = set()
    for start in range(0, len(paper_ids), 1_000):
        chunk = list(paper_ids[start : start + 1_000])
        kept.update(session.scalars(select(Paper.id).where(Paper.id.in_(chunk))))
    removed = [p for p in paper_ids if p not in kept]
    dropped = 0
    for column, values in ((Match.subscriber_id, gone), (Match.paper_id, removed)):
        for start in range(0, len(values), 1_000):
            found = delete(Match).where(column.in_(values[start : start + 1_000]))
            dropped += int(session.execute(found).rowcount)  # type: ignore[attr-defined]
    return dropped


def _subscriber_ids(session: Session, low: int, high: int) -> np.ndarray:
    """The ids of the subscribers from ``low`` to ``high``, sorted."""
    if dialect_name(session) == "postgresql":
        cursor = session.connection().connection.cursor(binary=True)
        cursor.execute(
            "SELECT substr(array_send(array_agg(id)), 21) FROM subscribers "
            "WHERE id BETWEEN %s AND %s",
            (low, high),
        )
        row = cursor.fetchone()
        return np.sort(_int_arrays([row[0]])) if row and row[0] else np.zeros(0, np.int64)
    rows = session.scalars(select(Subscriber.id).where(Subscriber.id.between(low, high)))
    return np.sort(np.fromiter(rows, dtype=np.int64))


def match_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Match)) or 0)
