"""Use case: plan the due editions, fixing and reserving each digest's papers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.pipeline._types import Factory
from service.plan.schedule import Schedule, due_edition
from service.store import ledger
from service.store.db import transaction
from service.store.models import (
    DeliveryKind,
    DeliveryStatus,
    FailureReason,
    Subscriber,
)


@dataclass
class PlanReport:
    planned: list[int] = field(default_factory=list)
    empty: int = 0
    existing: int = 0


def plan_editions(factory: Factory, settings: Settings, now: dt.datetime) -> PlanReport:
    """Create the due digests in keyset batches bounded by a snapshot of subscriber ids; each
    digest's papers are fixed and reserved in the same transaction. The caller enqueues
    ``report.planned`` after this returns (after the commits)."""
    report = PlanReport()
    with factory() as session:
        snapshot = session.scalar(select(Subscriber.id).order_by(Subscriber.id.desc()).limit(1))
    after = 0
    while snapshot is not None:
        with transaction(factory) as session:
            batch = ledger.subscribers_after(session, after, snapshot, settings.batch_size)
            if not batch:
                break
            trending = ledger.trending_pool(session, settings.trending_papers * 4)
            for subscriber in batch:
                _plan_one(session, settings, subscriber, trending, now, report)
            after = batch[-1].id
    return report


def _plan_one(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    trending_pool: Sequence[ledger.Pick],
    now: dt.datetime,
    report: PlanReport,
) -> None:
    key = due_edition(_schedule(subscriber), now)
    if key is None:
        return
    delivery_id = ledger.insert_delivery(
        session, kind=DeliveryKind.digest, domain=settings.mail_domain, now=now,
        subscriber_id=subscriber.id, edition_key=key,
    )  # fmt: skip
    if delivery_id is None:
        report.existing += 1
        return
    matched = ledger.unsent_matches(session, subscriber.id, subscriber.max_papers)
    trending: list[ledger.Pick] = []
    if subscriber.include_trending:
        taken = {p.arxiv_id for p in matched}
        sent = ledger.already_sent(session, subscriber.id, [p.arxiv_id for p in trending_pool])
        trending = [p for p in trending_pool if p.arxiv_id not in taken | sent]
        trending = trending[: settings.trending_papers]
    if not matched and not trending and settings.skip_empty_digests:
        ledger.finish(
            session, delivery_id, DeliveryStatus.skipped, now=now, reason=FailureReason.empty
        )
        report.empty += 1
        return
    ledger.fix_digest(session, delivery_id, subscriber.id, matched, trending, now)
    report.planned.append(delivery_id)


def _schedule(subscriber: Subscriber) -> Schedule:
    return Schedule(
        timezone=subscriber.timezone,
        send_hour=subscriber.send_hour,
        frequency=subscriber.frequency,
        weekday=subscriber.weekday,
        paused_until=subscriber.paused_until,
        last_digest_at=subscriber.last_digest_at,
    )
