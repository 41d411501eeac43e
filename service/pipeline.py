"""The use cases: ingest, match, plan, deliver. Each is a short composition of the stages.

Entry points (CLI, Celery tasks, web) build the session factory, the mailer and the clock and
pass them in; nothing here reads the real clock or opens SMTP on its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.content import compose_for, render_delivery
from service.ingest import files
from service.ingest.model import ParseResult
from service.match.engine import InterestIndex, match_papers
from service.match.types import InterestSpec, PaperDoc
from service.plan.schedule import Schedule, due_edition
from service.send.mailer import Mailer, Outcome, Outgoing
from service.store import ledger
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    FailureReason,
    IngestRun,
    Interest,
    Match,
    Paper,
    Subscriber,
    SubscriberStatus,
)
from service.store.papers import upsert_papers
from service.store.sql import insert_ignore
from service.track.events import is_suppressed, record_event, suppress

log = logging.getLogger("paperpost.pipeline")
Factory = sessionmaker[Session]
Clock = Callable[[], dt.datetime]
POISON_ATTEMPTS = 3


# --- ingest -------------------------------------------------------------------------------


@dataclass
class IngestReport:
    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)


def ingest_parsed(
    factory: Factory, source: str, target: str, parsed: ParseResult, now: dt.datetime
) -> IngestReport:
    """Store what a parser produced in one transaction, and record the run."""
    with transaction(factory) as session:
        result = upsert_papers(session, parsed.papers, now)
        report = IngestReport(
            source=source,
            fetched=len(parsed.papers) + len(parsed.errors),
            new=result.new,
            updated=result.updated,
            unchanged=result.unchanged,
            skipped=[*parsed.errors, *result.skipped],
        )
        session.add(
            IngestRun(
                source=source,
                target=target,
                started_at=now,
                finished_at=now,
                fetched=report.fetched,
                new=report.new,
                updated=report.updated,
                skipped=len(report.skipped),
                errors=report.skipped[:100],
            )
        )
    return report


def ingest_file(factory: Factory, path: Path, now: dt.datetime) -> IngestReport:
    """Raises ``PayloadError`` (and stores nothing) when the file as a whole is unusable."""
    return ingest_parsed(factory, "file", str(path), files.read(path), now)


# --- match --------------------------------------------------------------------------------


@dataclass
class MatchReport:
    papers: int = 0
    interests: int = 0
    matches: int = 0


def match_new_papers(factory: Factory, now: dt.datetime, window_days: int = 7) -> MatchReport:
    """Run pending papers against all interests, and new interests against recent papers."""
    report = MatchReport()
    since = now - dt.timedelta(days=window_days)
    with transaction(factory) as session:
        interests = _active_interests(session)
        report.interests = len(interests)
        pending = _paper_docs(session, Paper.match_pending.is_(True))
        report.papers = len(pending)
        found = match_papers(pending, InterestIndex(list(interests))) if interests else []
        fresh = [i for i, new in interests.items() if new]
        if fresh:
            recent = _paper_docs(session, Paper.published_at >= since, Paper.ingested_at >= since)
            found += match_papers(recent, InterestIndex(fresh))
        report.matches = _store_matches(session, found, now)
        session.execute(
            update(Paper).where(Paper.match_pending.is_(True)).values(match_pending=False)
        )
        session.execute(update(Interest).values(backfill_pending=False))
    return report


def _active_interests(session: Session) -> dict[InterestSpec, bool]:
    rows = session.execute(
        select(Interest.id, Interest.subscriber_id, Interest.value, Interest.weight,
               Interest.backfill_pending)
        .join(Subscriber)
        .where(Subscriber.status == SubscriberStatus.active, Interest.negated.is_(False))
    )  # fmt: skip
    return {InterestSpec(i, s, v, w): bool(new) for i, s, v, w, new in rows}


def _paper_docs(session: Session, *where: ColumnElement[bool]) -> list[PaperDoc]:
    """Papers meeting any of the conditions, as match documents."""
    papers = session.scalars(select(Paper).where(or_(*where)))
    return [
        PaperDoc(
            id=p.id,
            arxiv_id=p.arxiv_id,
            title=p.title,
            summary=p.summary,
            authors=tuple(a["name"] for a in p.authors),
            categories=tuple(p.categories),
            upvotes=p.upvotes,
            published_at=p.published_at,
        )
        for p in papers
    ]


def _store_matches(session: Session, found: Sequence[object], now: dt.datetime) -> int:
    rows = [
        {"subscriber_id": m.subscriber_id, "paper_id": m.paper_id, "score": m.score,  # type: ignore[attr-defined]
         "reasons": list(m.reasons), "created_at": now}  # type: ignore[attr-defined]
        for m in found
    ]  # fmt: skip
    for start in range(0, len(rows), 5_000):
        session.execute(insert_ignore(session, Match), rows[start : start + 5_000])
    return len(rows)


# --- plan ---------------------------------------------------------------------------------


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


# --- deliver ------------------------------------------------------------------------------


@dataclass
class DeliverReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    skipped: int = 0
    not_claimed: int = 0

    def add(self, other: DeliverReport) -> None:
        for name in ("sent", "retry", "failed", "skipped", "not_claimed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def deliver_batch(
    factory: Factory, settings: Settings, mailer: Mailer, ids: Sequence[int], clock: Clock
) -> DeliverReport:
    """Claim each row just before sending it, send over one reused connection, and commit the
    outcome right after the server's reply."""
    report = DeliverReport()
    loop = asyncio.new_event_loop()
    try:
        for delivery_id in ids:
            _deliver_one(factory, settings, mailer, loop, delivery_id, clock, report)
    finally:
        loop.run_until_complete(mailer.close())
        loop.close()
    return report


def _deliver_one(
    factory: Factory,
    settings: Settings,
    mailer: Mailer,
    loop: asyncio.AbstractEventLoop,
    delivery_id: int,
    clock: Clock,
    report: DeliverReport,
) -> None:
    lease = dt.timedelta(seconds=settings.lease_seconds)
    with transaction(factory) as session:
        if not ledger.claim(session, delivery_id, clock(), lease):
            report.not_claimed += 1
            return
    with transaction(factory) as session:
        message = _prepare(session, settings, delivery_id, clock(), report)
    if message is None:
        return
    result = loop.run_until_complete(mailer.send(message))
    with transaction(factory) as session:
        _record_outcome(session, settings, delivery_id, result, clock(), report)


def _prepare(
    session: Session, settings: Settings, delivery_id: int, now: dt.datetime, report: DeliverReport
) -> Outgoing | None:
    """Re-read the subscriber (an unsubscribe committed before the claim wins) and build the
    bytes; a row whose rendering keeps failing ends ``failed/poison``."""
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    stop = _stop_reason(session, delivery, subscriber)
    if stop is not None:
        ledger.finish(session, delivery_id, DeliveryStatus.skipped, now=now, reason=stop)
        report.skipped += 1
        return None
    assert subscriber is not None
    try:
        rendered = render_delivery(session, settings, delivery, subscriber, now)
        composed = compose_for(
            settings, rendered, subscriber, delivery.message_id, now, delivery.kind,
            delivery.to_address,
        )  # fmt: skip
    except Exception as exc:
        log.exception("delivery %s: rendering failed", delivery_id)
        poisoned = delivery.attempts >= POISON_ATTEMPTS
        ledger.finish(
            session, delivery_id,
            DeliveryStatus.failed if poisoned else DeliveryStatus.planned,
            now=now, error=f"render: {exc!r}", reason=FailureReason.poison if poisoned else None,
            retry_at=None if poisoned else now + backoff(delivery.attempts),
        )  # fmt: skip
        report.failed += poisoned
        report.retry += not poisoned
        return None
    return Outgoing(sender=composed.sender, recipient=composed.recipient, data=composed.data)


def _stop_reason(session: Session, delivery: Delivery, subscriber: Subscriber | None) -> str | None:
    if subscriber is None:
        return FailureReason.unsubscribed
    needs_active = delivery.kind in (DeliveryKind.digest, DeliveryKind.welcome)
    if needs_active and subscriber.status != SubscriberStatus.active:
        return (
            FailureReason.suppressed
            if subscriber.status == SubscriberStatus.suppressed
            else FailureReason.unsubscribed
        )
    if is_suppressed(session, delivery.to_address or subscriber.email):
        return FailureReason.suppressed
    return None


def _record_outcome(
    session: Session,
    settings: Settings,
    delivery_id: int,
    result: object,
    now: dt.datetime,
    report: DeliverReport,
) -> None:
    from service.send.mailer import SendResult

    assert isinstance(result, SendResult)
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    if result.outcome is Outcome.sent:
        ledger.finish(session, delivery_id, DeliveryStatus.sent, now=now, code=result.code,
                      error=result.reply)  # fmt: skip
        if delivery.kind == DeliveryKind.digest and delivery.subscriber_id:
            session.execute(
                update(Subscriber)
                .where(Subscriber.id == delivery.subscriber_id)
                .values(last_digest_at=now)
            )
        report.sent += 1
    elif result.outcome is Outcome.bounced:
        ledger.finish(session, delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                      error=result.reply, reason=FailureReason.bounced)  # fmt: skip
        _suppress_recipient(session, delivery, "hard_bounce", now, result.reply)
        report.failed += 1
    elif result.outcome is Outcome.rejected:
        ledger.finish(session, delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                      error=result.reply, reason=FailureReason.poison)  # fmt: skip
        log.error("delivery %s: relay rejected the message: %s", delivery_id, result.reply)
        report.failed += 1
    else:
        _schedule_retry(session, settings, delivery, result.code, result.reply, now,
                        ambiguous=result.outcome is Outcome.ambiguous, report=report)  # fmt: skip


def _schedule_retry(
    session: Session,
    settings: Settings,
    delivery: Delivery,
    code: int | None,
    reply: str,
    now: dt.datetime,
    *,
    ambiguous: bool,
    report: DeliverReport,
) -> None:
    if delivery.attempts >= settings.max_attempts:
        ledger.finish(session, delivery.id, DeliveryStatus.failed, now=now, code=code,
                      error=reply, reason=FailureReason.gave_up, ambiguous=ambiguous)  # fmt: skip
        report.failed += 1
        return
    ledger.finish(session, delivery.id, DeliveryStatus.planned, now=now, code=code, error=reply,
                  retry_at=now + backoff(delivery.attempts), ambiguous=ambiguous)  # fmt: skip
    report.retry += 1


def _suppress_recipient(
    session: Session, delivery: Delivery, reason: str, now: dt.datetime, reply: str
) -> None:
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    address = delivery.to_address or (subscriber.email if subscriber else None)
    if address is None:
        return
    suppress(session, address, reason, now, note=reply[:200])
    if subscriber is not None and delivery.to_address is None:
        subscriber.status = SubscriberStatus.suppressed
        record_event(session, "bounce", "smtp", now, subscriber.id, {"reply": reply[:200]})


def backoff(attempts: int, base: float = 60.0, cap: float = 1800.0) -> dt.timedelta:
    """1 min x 2^n with full jitter on the upper half, capped at 30 min."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay / 2 + random.random() * delay / 2)


def sweep_due(factory: Factory, now: dt.datetime, limit: int = 10_000) -> list[int]:
    """Planned rows that are due and sending rows whose lease expired: enqueue them again."""
    with factory() as session:
        return ledger.due_ids(session, now, limit)
