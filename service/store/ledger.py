"""The delivery ledger: create outbox rows idempotently, fix a digest's papers, claim a row
with a lease, and record each outcome. The unique keys, not the broker, make retries safe."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

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
class Sendable:
    """A claimed row with its subscriber (None for alerts and test sends) and the address."""

    delivery: Delivery
    subscriber: Subscriber | None
    address: str | None


@dataclass(frozen=True, slots=True)
class DigestFix:
    delivery_id: int
    subscriber_id: int
    matched: tuple[Pick, ...]
    trending: tuple[Pick, ...]


def new_message_id(domain: str) -> str:
    return f"{uuid.uuid4().hex}@{domain}"


def insert_delivery(
    session: Session,
    *,
    kind: DeliveryKind,
    domain: str,
    now: dt.datetime,
    subscriber_id: int | None = None,
    edition_key: str | None = None,
    to_address: str | None = None,
    payload: dict[str, object] | None = None,
) -> int | None:
    """Insert an outbox row; None when the (subscriber, kind, edition) row already exists."""
    stmt = (
        insert_ignore(session, Delivery)
        .values(
            subscriber_id=subscriber_id,
            kind=kind,
            edition_key=edition_key,
            to_address=to_address,
            status=DeliveryStatus.planned,
            message_id=new_message_id(domain),
            next_attempt_at=now,
            created_at=now,
            payload=payload or {},
            paper_ids=[],
            trending_ids=[],
        )
        .returning(Delivery.id)
    )
    inserted: int | None = session.scalar(stmt)
    return inserted


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
    stmt = (
        insert_ignore(session, Delivery)
        .values(values)
        .returning(Delivery.id, Delivery.subscriber_id, Delivery.edition_key)
    )
    return {(sid, key): did for did, sid, key in session.execute(stmt)}


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


def unsent_matches(session: Session, subscriber_id: int, limit: int) -> list[Pick]:
    """The subscriber's best matches that no digest has taken and no earlier digest sent."""
    return unsent_matches_for(session, {subscriber_id: limit}).get(subscriber_id, [])


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


def already_sent(session: Session, subscriber_id: int, arxiv_ids: Sequence[str]) -> set[str]:
    return {a for _, a in sent_among(session, [subscriber_id], arxiv_ids)}


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


def fix_digest(
    session: Session,
    delivery_id: int,
    subscriber_id: int,
    matched: Sequence[Pick],
    trending: Sequence[Pick],
    now: dt.datetime,
) -> None:
    """Record the digest's papers on its row and reserve them for this subscriber."""
    fix_digests(
        session, [DigestFix(delivery_id, subscriber_id, tuple(matched), tuple(trending))], now
    )


def fix_digests(session: Session, fixes: Sequence[DigestFix], now: dt.datetime) -> None:
    """Many digests in three statements: the papers on each row, the reservations in
    ``sent_papers``, and the matches pointed at their digest."""
    if not fixes:
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


def _claimable(now: dt.datetime) -> object:
    return and_(
        Delivery.next_attempt_at <= now,
        or_(
            Delivery.status == DeliveryStatus.planned,
            and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now),
        ),
    )


def claim(session: Session, delivery_id: int, now: dt.datetime, lease: dt.timedelta) -> bool:
    """The only way to obtain the right to send: a guarded update. True means "send it"."""
    return claim_many(session, [delivery_id], now, lease) == [delivery_id]


def claim_many(
    session: Session,
    ids: Sequence[int],
    now: dt.datetime,
    lease: dt.timedelta,
    kinds: Iterable[str] | None = None,
) -> list[int]:
    """Claim the claimable rows among ``ids`` (a guarded update; on PostgreSQL the rows are
    picked ``FOR UPDATE SKIP LOCKED`` so two workers never wait on each other). Returns the
    ids this caller may send, in the given order."""
    if not ids:
        return []
    stmt = update(Delivery)
    if dialect_name(session) == "postgresql":
        picked = select(Delivery.id).where(Delivery.id.in_(list(ids)), _claimable(now))  # type: ignore[arg-type]
        if kinds is not None:
            picked = picked.where(Delivery.kind.in_(list(kinds)))
        locked = picked.with_for_update(skip_locked=True).cte("locked")
        stmt = stmt.where(Delivery.id == locked.c.id)
    else:  # SQLite: BEGIN IMMEDIATE serialises writers; the guarded update is atomic
        stmt = stmt.where(Delivery.id.in_(list(ids)), _claimable(now))  # type: ignore[arg-type]
        if kinds is not None:
            stmt = stmt.where(Delivery.kind.in_(list(kinds)))
    stmt = (
        stmt.values(
            status=DeliveryStatus.sending,
            lease_until=now + lease,
            claimed_at=now,
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    got = set(session.scalars(stmt))
    return [i for i in ids if i in got]


def load_for_sending(session: Session, ids: Sequence[int]) -> list[Sendable]:
    """The claimed rows and their subscribers (with interests) in three queries, in order."""
    if not ids:
        return []
    deliveries = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    wanted = {d.subscriber_id for d in deliveries.values() if d.subscriber_id is not None}
    people = {
        s.id: s
        for s in session.scalars(
            select(Subscriber)
            .where(Subscriber.id.in_(wanted))
            .options(selectinload(Subscriber.interests))
        )
    }
    out = []
    for delivery_id in ids:
        d = deliveries[delivery_id]
        person = people.get(d.subscriber_id) if d.subscriber_id is not None else None
        out.append(Sendable(d, person, d.to_address or (person.email if person else None)))
    return out


def finish(
    session: Session,
    delivery_id: int,
    status: DeliveryStatus,
    *,
    now: dt.datetime,
    code: int | None = None,
    error: str | None = None,
    reason: str | None = None,
    retry_at: dt.datetime | None = None,
    ambiguous: bool = False,
    refund_attempt: bool = False,
) -> None:
    """Record an outcome. ``refund_attempt`` gives back the attempt a claim counted, for a
    send that never reached the recipient's side (sending paused, nothing transmitted)."""
    values: dict[str, object] = {
        "status": status,
        "lease_until": None,
        "last_smtp_code": code,
        "last_error": (error or "")[:1000] or None,
        "failure_reason": reason,
    }
    if status == DeliveryStatus.sent:
        values["sent_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    if ambiguous:
        values["ambiguous"] = True
    if refund_attempt:
        values["attempts"] = Delivery.attempts - 1
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def due_ids(
    session: Session,
    now: dt.datetime,
    limit: int,
    stale_before: dt.datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> list[int]:
    """Rows a sweeper should (re-)enqueue: planned and due, or sending with an expired lease.
    With ``stale_before``, planned rows a task carried after that instant are left to it."""
    query = select(Delivery.id).where(_claimable(now))  # type: ignore[arg-type]
    if stale_before is not None:
        query = query.where(
            or_(
                Delivery.status == DeliveryStatus.sending,
                Delivery.enqueued_at.is_(None),
                Delivery.enqueued_at < stale_before,
            )
        )
    if kinds is not None:
        query = query.where(Delivery.kind.in_(list(kinds)))
    return list(session.scalars(query.order_by(Delivery.id).limit(limit)))


def mark_enqueued(session: Session, ids: Sequence[int], now: dt.datetime | None) -> None:
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(ids)))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )


def defer(session: Session, ids: Sequence[int], until: dt.datetime) -> None:
    """Push planned rows to a later attempt time (a daily cap reached)."""
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(ids)), Delivery.status == DeliveryStatus.planned)
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )


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
