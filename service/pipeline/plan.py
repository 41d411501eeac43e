"""Use case: plan the due editions, fixing and reserving each digest's papers.

Subscribers are walked in keyset pages bounded by the highest id at the start of the run (as
listmonk does), so a run resumes cleanly and never picks up people who joined mid-run. Each page
is one transaction: the digest rows, their papers, the ``sent_papers`` reservations and the
matches' link to their digest commit together, in a handful of set-based statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.observability.metrics import DELIVERIES_PLANNED
from service.pipeline._types import Factory
from service.plan.schedule import Plan, Schedule, plan_for
from service.store import editions, ledger
from service.store.db import transaction
from service.store.models import DeliveryStatus, FailureReason, Subscriber, SubscriberStatus

INSERT_CHUNK = 2000  # rows per multi-row INSERT, below every driver's parameter limit


@dataclass
class PlanReport:
    planned: list[int] = field(default_factory=list)
    empty: int = 0
    existing: int = 0
    missed: int = 0  # older slots after downtime, recorded as skipped


def plan_editions(
    factory: Factory,
    settings: Settings,
    now: dt.datetime,
    *,
    on_page: Callable[[list[int]], None] | None = None,
) -> PlanReport:
    """Create the due digests in keyset batches bounded by a snapshot of subscriber ids; each
    digest's papers are fixed and reserved in the same transaction. ``on_page`` gets each
    page's new ids right after its commit (a worker enqueues them, so sending starts while
    planning goes on); otherwise the caller enqueues ``report.planned`` at the end."""
    report = PlanReport()
    with factory() as session:
        snapshot = session.scalar(select(Subscriber.id).order_by(Subscriber.id.desc()).limit(1))
        trending = editions.trending_pool(session, settings.trending_papers * 4)
    after = 0
    while snapshot is not None:
        with transaction(factory) as session:
            batch = _candidates(session, after, snapshot, settings.plan_page_size)
            if not batch:
                break
            before = len(report.planned)
            _plan_batch(session, settings, batch, trending, now, report)
            after = batch[-1].id
        if on_page is not None and len(report.planned) > before:
            on_page(report.planned[before:])
    DELIVERIES_PLANNED.inc(len(report.planned))
    return report


def _candidates(session: Session, after: int, snapshot: int, limit: int) -> Sequence[Row[tuple]]:  # type: ignore[type-arg]
    s = Subscriber
    return session.execute(
        select(s.id, s.timezone, s.send_hour, s.frequency, s.weekday, s.paused_until,
               s.last_digest_at, s.max_papers, s.include_trending)
        .where(s.id > after, s.id <= snapshot, s.status == SubscriberStatus.active)
        .order_by(s.id)
        .limit(limit)
    ).all()  # fmt: skip


def _plan_batch(
    session: Session,
    settings: Settings,
    batch: Sequence[Row[tuple]],  # type: ignore[type-arg]
    trending_pool: Sequence[editions.Pick],
    now: dt.datetime,
    report: PlanReport,
) -> None:
    last = editions.last_planned(session, [r.id for r in batch])
    plans = {r.id: plan_for(_schedule(r), now, last.get(r.id), settings.catch_up_slots)
             for r in batch}  # fmt: skip
    new = _insert_rows(session, settings, plans, now, report)
    if not new:
        return
    limits = {r.id: r.max_papers for r in batch if r.id in new}
    matched = editions.unsent_matches_for(session, limits)
    wants_trending = [r.id for r in batch if r.id in new and r.include_trending]
    sent = editions.sent_among(session, wants_trending, [p.arxiv_id for p in trending_pool])
    fixes: list[editions.DigestFix] = []
    empty: list[int] = []
    for sid, delivery_id in new.items():
        mine = matched.get(sid, [])
        taken = {p.arxiv_id for p in mine}
        extra = [
            p for p in trending_pool if p.arxiv_id not in taken and (sid, p.arxiv_id) not in sent
        ]
        extra = extra[: settings.trending_papers] if sid in wants_trending else []
        if not mine and not extra and settings.skip_empty_digests:
            empty.append(delivery_id)
            continue
        fixes.append(editions.DigestFix(delivery_id, sid, tuple(mine), tuple(extra)))
    editions.fix_digests(session, fixes, now)
    for delivery_id in empty:
        ledger.finish(
            session, delivery_id, DeliveryStatus.skipped, now=now, reason=FailureReason.empty
        )
    report.empty += len(empty)
    report.planned.extend(f.delivery_id for f in fixes)


def _insert_rows(
    session: Session,
    settings: Settings,
    plans: dict[int, Plan],
    now: dt.datetime,
    report: PlanReport,
) -> dict[int, int]:
    """Insert the due rows and the missed ones; returns {subscriber: new due delivery id}."""
    rows: list[editions.NewDigest] = []
    for sid, plan in plans.items():
        if plan.due is None:
            continue
        rows.append(editions.NewDigest(sid, plan.due.key))
        rows.extend(editions.NewDigest(sid, m.key, FailureReason.missed) for m in plan.missed)
    inserted: dict[tuple[int, str], int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        inserted.update(editions.insert_digests(session, chunk, settings.mail_domain, now))
    new: dict[int, int] = {}
    for (sid, key), delivery_id in inserted.items():
        due = plans[sid].due
        if due is not None and due.key == key:
            new[sid] = delivery_id
        else:
            report.missed += 1
    report.existing += sum(1 for p in plans.values() if p.due is not None) - len(new)
    return new


def _schedule(row: Row[tuple]) -> Schedule:  # type: ignore[type-arg]
    return Schedule(
        timezone=row.timezone,
        send_hour=row.send_hour,
        frequency=row.frequency,
        weekday=row.weekday,
        paused_until=row.paused_until,
        last_digest_at=row.last_digest_at,
    )
