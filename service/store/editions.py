"""Planning's queries: digest rows inserted many at a time, the last edition each subscriber got,
their best untaken matches, and the papers fixed and reserved for each digest, all in a few
set-based statements per page of subscribers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, exists, func, select, text
from sqlalchemy.orm import Session

from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Match,
    Paper,
    SentPaper,
    Subscriber,
)
from service.store.sql import dialect_name, insert_ignore


@dataclass(frozen=True, slots=True)
class Pick:
    paper_id: int
    arxiv_id: str


@dataclass(frozen=True, slots=True)
class NewDigest:
    subscriber_id: int
    edition_key: str
    skipped_reason: str | None = None  # a missed slot, recorded as skipped at once


@dataclass(frozen=True, slots=True)
class DigestFix:
    delivery_id: int
    subscriber_id: int
    matched: tuple[Pick, ...]
    trending: tuple[Pick, ...]


def new_message_id(domain: str) -> str:
    return f"{uuid.uuid4().hex}@{domain}"


def insert_digests(
    session: Session, rows: Sequence[NewDigest], domain: str, now: dt.datetime
) -> dict[tuple[int, str], int]:
    """Insert many digest rows at once; returns {(subscriber, edition): id} of the new ones.
    Rows that already exist (a second planner, a retried run) are left alone."""
    if not rows:
        return {}
    values: list[dict[str, object]] = [
        {
            "subscriber_id": r.subscriber_id,
            "kind": DeliveryKind.digest,
            "edition_key": r.edition_key,
            "to_address": None,
            "status": DeliveryStatus.skipped if r.skipped_reason else DeliveryStatus.planned,
            "failure_reason": r.skipped_reason,
            "message_id": new_message_id(domain),
            "next_attempt_at": now,
            "created_at": now,
            "enqueued_at": None if r.skipped_reason else now,  # the planner enqueues them
            "payload": {},
            "paper_ids": [],
            "trending_ids": [],
        }
        for r in rows
    ]
    # executemany with RETURNING: SQLAlchemy batches it ("insertmanyvalues") with a cached
    # statement, where one giant VALUES list would be compiled afresh for every page.
    stmt = insert_ignore(session, Delivery).returning(
        Delivery.id, Delivery.subscriber_id, Delivery.edition_key
    )
    result = session.connection().execute(stmt, values)
    return {(sid, key): did for did, sid, key in result}


def last_planned(session: Session, subscriber_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """When each subscriber's latest digest row was created."""
    if not subscriber_ids:
        return {}
    rows = session.execute(
        select(Delivery.subscriber_id, func.max(Delivery.created_at))
        .where(Delivery.subscriber_id.in_(subscriber_ids), Delivery.kind == DeliveryKind.digest)
        .group_by(Delivery.subscriber_id)
    )
    return {sid: ts for sid, ts in rows}


def unsent_matches_for(session: Session, limits: dict[int, int]) -> dict[int, list[Pick]]:
    """For many subscribers at once: their best untaken, never-sent matches, best first."""
    if not limits:
        return {}
    sent = exists().where(
        SentPaper.subscriber_id == Match.subscriber_id, SentPaper.arxiv_id == Paper.arxiv_id
    )
    rows = session.execute(
        select(Match.subscriber_id, Paper.id, Paper.arxiv_id)
        .join(Paper, Match.paper_id == Paper.id)
        .where(Match.subscriber_id.in_(list(limits)), Match.delivery_id.is_(None), ~sent)
        .order_by(Match.subscriber_id, Match.score.desc(), Paper.upvotes.desc(), Paper.id)
    )
    picks: dict[int, list[Pick]] = defaultdict(list)
    for sid, pid, aid in rows:
        if len(picks[sid]) < limits[sid]:
            picks[sid].append(Pick(pid, aid))
    return picks


def sent_among(
    session: Session, subscriber_ids: Sequence[int], arxiv_ids: Sequence[str]
) -> set[tuple[int, str]]:
    if not arxiv_ids or not subscriber_ids:
        return set()
    rows = session.execute(
        select(SentPaper.subscriber_id, SentPaper.arxiv_id).where(
            SentPaper.subscriber_id.in_(subscriber_ids), SentPaper.arxiv_id.in_(arxiv_ids)
        )
    )
    return {(sid, aid) for sid, aid in rows}


def fix_digests(session: Session, fixes: Sequence[DigestFix], now: dt.datetime) -> None:
    """Many digests in three statements: the papers on each row, the reservations in
    ``sent_papers``, and the matches pointed at their digest."""
    if not fixes:
        return
    if dialect_name(session) == "postgresql":
        _fix_digests_unnest(session, fixes, now)
        return
    table = Delivery.__table__
    assert isinstance(table, Table)
    session.execute(
        table.update()
        .where(table.c.id == bindparam("did"))
        .values(paper_ids=bindparam("p"), trending_ids=bindparam("t")),
        [
            {
                "did": f.delivery_id,
                "p": [x.paper_id for x in f.matched],
                "t": [x.paper_id for x in f.trending],
            }
            for f in fixes
        ],
    )
    reserve = [
        {"subscriber_id": f.subscriber_id, "arxiv_id": p.arxiv_id,
         "delivery_id": f.delivery_id, "created_at": now}
        for f in fixes for p in (*f.matched, *f.trending)
    ]  # fmt: skip
    if reserve:
        session.execute(insert_ignore(session, SentPaper), reserve)
    taken = [
        {"s": f.subscriber_id, "p": p.paper_id, "d": f.delivery_id}
        for f in fixes
        for p in f.matched
    ]
    if taken:
        matches = Match.__table__
        assert isinstance(matches, Table)
        session.execute(
            matches.update()
            .where(matches.c.subscriber_id == bindparam("s"), matches.c.paper_id == bindparam("p"))
            .values(delivery_id=bindparam("d")),
            taken,
        )


def _fix_digests_unnest(session: Session, fixes: Sequence[DigestFix], now: dt.datetime) -> None:
    """PostgreSQL: the same three statements, each taking whole columns as arrays."""
    session.execute(
        text("UPDATE deliveries AS d SET paper_ids = CAST(v.p AS json), "
             "trending_ids = CAST(v.t AS json) FROM unnest(CAST(:ids AS integer[]), "
             "CAST(:p AS text[]), CAST(:t AS text[])) AS v(id, p, t) WHERE d.id = v.id"),
        {"ids": [f.delivery_id for f in fixes],
         "p": [json.dumps([x.paper_id for x in f.matched]) for f in fixes],
         "t": [json.dumps([x.paper_id for x in f.trending]) for f in fixes]},
    )  # fmt: skip
    picks = [(f.subscriber_id, p.arxiv_id, f.delivery_id)
             for f in fixes for p in (*f.matched, *f.trending)]  # fmt: skip
    if picks:
        session.execute(
            text("INSERT INTO sent_papers (subscriber_id, arxiv_id, delivery_id, created_at) "
                 "SELECT s, a, d, :now FROM unnest(CAST(:s AS integer[]), CAST(:a AS text[]), "
                 "CAST(:d AS integer[])) AS v(s, a, d) ON CONFLICT DO NOTHING"),
            {"s": [x[0] for x in picks], "a": [x[1] for x in picks], "d": [x[2] for x in picks],
             "now": now.astimezone(dt.UTC).replace(tzinfo=None)},
        )  # fmt: skip
    taken = [(f.subscriber_id, p.paper_id, f.delivery_id) for f in fixes for p in f.matched]
    if taken:
        session.execute(
            text("UPDATE matches AS m SET delivery_id = v.d FROM unnest(CAST(:s AS integer[]), "
                 "CAST(:p AS integer[]), CAST(:d AS integer[])) AS v(s, p, d) "
                 "WHERE m.subscriber_id = v.s AND m.paper_id = v.p"),
            {"s": [x[0] for x in taken], "p": [x[1] for x in taken], "d": [x[2] for x in taken]},
        )  # fmt: skip


def subscribers_after(
    session: Session, after_id: int, snapshot_id: int, limit: int
) -> list[Subscriber]:
    """Keyset page of active subscribers, bounded by the id snapshot taken when the run began."""
    return list(
        session.scalars(
            select(Subscriber)
            .where(
                Subscriber.id > after_id,
                Subscriber.id <= snapshot_id,
                Subscriber.status == "active",
            )
            .order_by(Subscriber.id)
            .limit(limit)
        )
    )


def trending_pool(session: Session, limit: int) -> list[Pick]:
    """The most upvoted papers of the latest Hugging Face daily-papers day."""
    latest = session.scalar(
        select(Paper.trending_date)
        .where(Paper.trending_date.is_not(None))
        .order_by(Paper.trending_date.desc())
        .limit(1)
    )
    if latest is None:
        return []
    rows = session.execute(
        select(Paper.id, Paper.arxiv_id)
        .where(Paper.trending_date == latest, Paper.upvotes > 0)
        .order_by(Paper.upvotes.desc(), Paper.id)
        .limit(limit)
    )
    return [Pick(pid, aid) for pid, aid in rows]
