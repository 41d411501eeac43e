"""The delivery ledger: create outbox rows idempotently, fix a digest's papers, claim a row
with a lease, and record each outcome. The unique keys, not the broker, make retries safe."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select, update
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
from service.store.sql import insert_ignore


@dataclass(frozen=True, slots=True)
class Pick:
    paper_id: int
    arxiv_id: str


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


def unsent_matches(session: Session, subscriber_id: int, limit: int) -> list[Pick]:
    """The subscriber's best matches that no digest has taken and no earlier digest sent."""
    sent = exists().where(
        SentPaper.subscriber_id == subscriber_id, SentPaper.arxiv_id == Paper.arxiv_id
    )
    rows = session.execute(
        select(Paper.id, Paper.arxiv_id)
        .join(Match, Match.paper_id == Paper.id)
        .where(Match.subscriber_id == subscriber_id, Match.delivery_id.is_(None), ~sent)
        .order_by(Match.score.desc(), Paper.upvotes.desc(), Paper.id)
        .limit(limit)
    )
    return [Pick(pid, aid) for pid, aid in rows]


def already_sent(session: Session, subscriber_id: int, arxiv_ids: Sequence[str]) -> set[str]:
    if not arxiv_ids:
        return set()
    rows = session.scalars(
        select(SentPaper.arxiv_id).where(
            SentPaper.subscriber_id == subscriber_id, SentPaper.arxiv_id.in_(arxiv_ids)
        )
    )
    return set(rows)


def fix_digest(
    session: Session,
    delivery_id: int,
    subscriber_id: int,
    matched: Sequence[Pick],
    trending: Sequence[Pick],
    now: dt.datetime,
) -> None:
    """Record the digest's papers on its row and reserve them for this subscriber."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            paper_ids=[p.paper_id for p in matched], trending_ids=[p.paper_id for p in trending]
        )
    )
    picks = [*matched, *trending]
    if picks:
        session.execute(
            insert_ignore(session, SentPaper),
            [
                {
                    "subscriber_id": subscriber_id,
                    "arxiv_id": p.arxiv_id,
                    "delivery_id": delivery_id,
                    "created_at": now,
                }
                for p in picks
            ],
        )
    if matched:
        session.execute(
            update(Match)
            .where(
                Match.subscriber_id == subscriber_id,
                Match.paper_id.in_([p.paper_id for p in matched]),
            )
            .values(delivery_id=delivery_id)
        )


def claim(session: Session, delivery_id: int, now: dt.datetime, lease: dt.timedelta) -> bool:
    """The only way to obtain the right to send: a guarded update. True means "send it"."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.next_attempt_at <= now,
            or_(
                Delivery.status == DeliveryStatus.planned,
                and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now),
            ),
        )
        .values(
            status=DeliveryStatus.sending, lease_until=now + lease, attempts=Delivery.attempts + 1
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


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
) -> None:
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
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def due_ids(session: Session, now: dt.datetime, limit: int) -> list[int]:
    """Rows a sweeper should (re-)enqueue: planned and due, or sending with an expired lease."""
    rows = session.scalars(
        select(Delivery.id)
        .where(
            Delivery.next_attempt_at <= now,
            or_(
                Delivery.status == DeliveryStatus.planned,
                and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now),
            ),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(rows)


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
