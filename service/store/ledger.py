"""The delivery ledger: create outbox rows idempotently, fix a digest's papers, claim a row
with a lease, and record each outcome. The unique keys, not the broker, make retries safe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, selectinload

from service.store.editions import (
    DigestFix,
    Pick,
    fix_digests,
    new_message_id,
    sent_among,
    subscribers_after,
    trending_pool,
    unsent_matches_for,
)
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Match,
    Paper,
    Subscriber,
)
from service.store.sql import dialect_name, insert_ignore

__all__ = [
    "Pick",
    "Sendable",
    "already_sent",
    "claim",
    "claim_many",
    "defer",
    "due_ids",
    "finish",
    "fix_digest",
    "insert_delivery",
    "load_for_sending",
    "mark_enqueued",
    "new_message_id",
    "paper_versions",
    "papers",
    "reasons_for",
    "subscribers_after",
    "trending_pool",
    "unsent_matches",
]


@dataclass(frozen=True, slots=True)
class Sendable:
    """A claimed row with its subscriber (None for alerts and test sends) and the address."""

    delivery: Delivery
    subscriber: Subscriber | None
    address: str | None


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


def unsent_matches(session: Session, subscriber_id: int, limit: int) -> list[Pick]:
    """The subscriber's best matches that no digest has taken and no earlier digest sent."""
    return unsent_matches_for(session, {subscriber_id: limit}).get(subscriber_id, [])


def already_sent(session: Session, subscriber_id: int, arxiv_ids: Sequence[str]) -> set[str]:
    return {a for _, a in sent_among(session, [subscriber_id], arxiv_ids)}


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


def papers(session: Session, ids: Iterable[int]) -> list[Paper]:
    """The papers with these ids, in one query."""
    wanted = list(ids)
    return list(session.scalars(select(Paper).where(Paper.id.in_(wanted)))) if wanted else []


def paper_versions(session: Session, ids: Iterable[int]) -> dict[int, dt.datetime]:
    """Each paper's version (``updated_at``, changed by every update), without its fields."""
    wanted = list(ids)
    if not wanted:
        return {}
    found = session.execute(select(Paper.id, Paper.updated_at).where(Paper.id.in_(wanted)))
    return dict(found.tuples().all())


def reasons_for(session: Session, rows: Sequence[Sendable]) -> dict[tuple[int, int], list[str]]:
    """Why each paper of the window's digests matched its subscriber, in one query."""
    wanted = {pid for r in rows for pid in r.delivery.paper_ids}
    people = {r.delivery.subscriber_id for r in rows if r.delivery.subscriber_id is not None}
    if not wanted or not people:
        return {}
    found = session.execute(
        select(Match.subscriber_id, Match.paper_id, Match.reasons).where(
            Match.subscriber_id.in_(people), Match.paper_id.in_(wanted)
        )
    )
    return {(sid, pid): list(why) for sid, pid, why in found}


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


# The ``sent`` records of a group of messages and their subscribers' ``last_digest_at``, in one
# statement (one commit, one WAL flush) on PostgreSQL. Timestamps are naive UTC, as stored.
SENT_GROUP = """
WITH done AS (
    UPDATE deliveries AS d
    SET status = 'sent', lease_until = NULL, failure_reason = NULL, last_smtp_code = v.code,
        last_error = NULLIF(left(v.reply, 1000), ''), sent_at = v.at
    FROM unnest(%(ids)s::integer[], %(codes)s::integer[], %(replies)s::text[],
                %(ats)s::timestamp[]) AS v(id, code, reply, at)
    WHERE d.id = v.id
    RETURNING d.subscriber_id, d.kind, v.at
)
UPDATE subscribers AS s SET last_digest_at = done.at FROM done
WHERE s.id = done.subscriber_id AND done.kind = 'digest'
"""


SentRow = tuple[int, int | None, str, dt.datetime]  # delivery id, SMTP code, reply, sent at


def sent_group_params(rows: Sequence[SentRow]) -> dict[str, list[object]]:
    """The parameters of ``SENT_GROUP`` for (delivery id, code, reply, sent at) rows."""
    return {
        "ids": [r[0] for r in rows],
        "codes": [r[1] for r in rows],
        "replies": [r[2] for r in rows],
        "ats": [r[3].astimezone(dt.UTC).replace(tzinfo=None) for r in rows],
    }


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
