"""Use case: claim, render, send and record deliveries; sweep the due ones.

A batch of ids is worked through in small windows (one row per pooled SMTP connection). Each
window's rows are claimed with a lease just before they are rendered and sent, the claim
re-reads the subscriber and the suppression list (an unsubscribe committed before the claim
wins), and each outcome commits on its own right after the server's reply, so a crash leaves at
most the messages in flight unrecorded (RELIABILITY.md section 3).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from service.config import Settings
from service.content import card_of
from service.observability.logs import log_context
from service.pipeline._types import Clock, Factory
from service.pipeline.outcome import Prepared, Recorder, backoff, record_outcome
from service.pipeline.prepare import prepare
from service.render.views import PaperCard
from service.send.mailer import Mailer, SendResult
from service.send.ratelimit import NoLimit, RateLimiter
from service.store import ledger, sending
from service.store.db import transaction
from service.store.models import (
    DeliveryKind,
    DeliveryStatus,
)

log = logging.getLogger("paperpost.deliver")
Checkpoint = Callable[[str], None]  # C1 after the claim, C2 after the 250, C3 after the commit
# Rows claimed and rendered together, just before they are sent. SQLite has one writer: its
# claim transaction holds the database while the window renders, and every `sent` waits for
# it, so its windows stay small.
CLAIM_WINDOW = 32
CLAIM_WINDOW_SQLITE = 8

SEEN_PAPERS = 20_000  # paper cards a worker process keeps between batches
_SEEN: dict[int, tuple[dt.datetime, PaperCard]] = {}  # paper id: (version, card)

__all__ = ["DeliverReport", "backoff", "deliver_batch", "sweep_due"]


@dataclass
class DeliverReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    skipped: int = 0
    not_claimed: int = 0
    deferred: int = 0  # left for later: deadline, daily cap, relay unreachable
    paused: int = 0  # not claimed because sending is paused

    def add(self, other: DeliverReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _no_checkpoint(point: str) -> None:
    return None


@dataclass
class _Batch:
    factory: Factory
    settings: Settings
    mailer: Mailer
    clock: Clock
    limiter: RateLimiter
    checkpoint: Checkpoint
    dry_run: bool
    report: DeliverReport = field(default_factory=DeliverReport)
    stop: str | None = None  # why the rest of the batch is not sent
    recorder: Recorder | None = None
    pause_checked: float = float("-inf")  # time.monotonic() of the last look at the pause
    cards: dict[int, PaperCard] = field(default_factory=dict)  # the batch's papers, loaded once


def deliver_batch(
    factory: Factory,
    settings: Settings,
    mailer: Mailer,
    ids: Sequence[int],
    clock: Clock,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    limiter: RateLimiter | None = None,
    checkpoint: Checkpoint | None = None,
    dry_run: bool = False,
) -> DeliverReport:
    """Send the rows among ``ids`` that are still due. Without ``loop`` a fresh event loop is
    used and the mailer closed at the end; a worker passes its own loop to keep connections."""
    batch = _Batch(factory, settings, mailer, clock, limiter or NoLimit(),
                   checkpoint or _no_checkpoint, dry_run,
                   recorder=Recorder(factory, settings.sent_commit_durable))  # fmt: skip
    own_loop = loop is None
    run_loop = loop or asyncio.new_event_loop()
    try:
        run_loop.run_until_complete(_run(batch, ids))
    finally:
        if batch.recorder is not None:
            run_loop.run_until_complete(batch.recorder.close())
        if own_loop:
            run_loop.run_until_complete(mailer.close())
            run_loop.run_until_complete(batch.limiter.close())  # its client is bound to the loop
            run_loop.close()
    return batch.report


async def _run(batch: _Batch, ids: Sequence[int]) -> None:
    """Claim and render the batch window by window, while ``smtp_pool_size`` senders work
    through the rendered messages: the next window is prepared while the previous one is on
    the wire and its ``sent`` records wait for the disk. At most one window waits, claimed,
    ahead of the senders. On SQLite, whose one writer every claim and every ``sent`` share, a
    window is sent and recorded before the next one is claimed."""
    settings = batch.settings
    deadline = time.monotonic() + settings.batch_deadline_seconds
    grouped = batch.recorder is not None and batch.recorder.grouped
    window = max(CLAIM_WINDOW if grouped else CLAIM_WINDOW_SQLITE, settings.smtp_pool_size)
    queue: asyncio.Queue[Prepared | None] = asyncio.Queue(maxsize=window)
    held: list[Prepared] = []
    senders = [
        asyncio.create_task(_sender(batch, queue, held)) for _ in range(settings.smtp_pool_size)
    ]
    try:
        for start in range(0, len(ids), window):
            if batch.stop is None and time.monotonic() > deadline:
                batch.stop = "deadline"
            if batch.stop is not None:
                if batch.stop != "error":
                    _leave(batch, ids[start:])
                break
            prepared = _claim_and_prepare(batch, ids[start : start + window])
            if not prepared:
                continue
            batch.checkpoint("C1")
            if batch.dry_run:
                _release(batch, prepared, "dry run")
                continue
            for p in prepared:
                await queue.put(p)
            if not grouped:  # SQLite: a window is sent and recorded before the next is claimed
                await queue.join()
    finally:
        for _ in senders:
            await queue.put(None)
        failures = [r for r in await asyncio.gather(*senders) if r is not None]
    if failures:
        raise failures[0]
    if held:
        _release(batch, held, f"not sent: {batch.stop or 'lease running short'}")


async def _sender(
    batch: _Batch, queue: asyncio.Queue[Prepared | None], held: list[Prepared]
) -> BaseException | None:
    """Send what the queue holds, one message at a time over one pooled connection; the
    messages left when the batch stops are ``held``. After a failure (the database went away
    while recording) nothing more is sent: the claimed rows wait for their lease to expire."""
    failure: BaseException | None = None
    while (p := await queue.get()) is not None:
        try:
            if failure is None and batch.stop != "error" and not await _send(batch, p):
                held.append(p)
        except Exception as exc:  # noqa: BLE001 (handed to the batch, which raises it)
            failure, batch.stop = exc, "error"
        finally:
            queue.task_done()
    return failure


def _leave(batch: _Batch, rest: Sequence[int]) -> None:
    """The rows this batch will not reach: deferred to a later attempt, or handed back to the
    sweeper at once (deadline)."""
    now = batch.clock()
    with transaction(batch.factory) as session:
        if batch.stop == "cap":
            ledger.defer(session, rest, _tomorrow(now))
        elif batch.stop == "unreachable":
            ledger.defer(session, rest, now + backoff(1, batch.settings))
        ledger.mark_enqueued(session, rest, None)
    if batch.stop == "paused":
        batch.report.paused += len(rest)
    else:
        batch.report.deferred += len(rest)


def _note_stop(batch: _Batch, result: SendResult) -> None:
    if result.stops_sending or (result.outcome == "policy" and _paused_now(batch)):
        batch.stop = "paused"
    elif result.stage == "connect" and batch.stop is None:
        batch.stop = "unreachable"


async def _send(batch: _Batch, p: Prepared) -> bool:
    """Send one message and commit its outcome before the sender takes the next, so at most
    ``smtp_pool_size`` replies per process are ever unrecorded; False when the batch stopped
    before this message's turn."""
    if batch.stop in ("paused", "unreachable"):
        return False
    await batch.limiter.wait(p.message.recipient.rpartition("@")[2])
    if time.monotonic() > p.send_by:
        return False  # the lease could lapse mid-send: let a fresh claim take it
    started = time.perf_counter()
    with log_context(delivery_id=p.delivery_id):
        result = await batch.mailer.send(p.message)
        seconds = time.perf_counter() - started
        if result.outcome == "sent":
            batch.checkpoint("C2")
        await record_outcome(batch.factory, batch.settings, p, result, batch.clock(),
                             seconds, batch.report, batch.recorder)  # fmt: skip
        if result.outcome == "sent":
            batch.checkpoint("C3")
    _note_stop(batch, result)
    return True


def _paused(batch: _Batch, session: Session) -> bool:
    """Look at the shared pause at most once a second (a pause raised by this batch stops it
    at once through ``batch.stop``)."""
    if time.monotonic() - batch.pause_checked < 1.0:
        return False
    batch.pause_checked = time.monotonic()
    return sending.current_pause(session) is not None


def _paused_now(batch: _Batch) -> bool:
    with batch.factory() as session:
        return sending.current_pause(session) is not None


def _claim_and_prepare(batch: _Batch, ids: Sequence[int]) -> list[Prepared]:
    """One transaction: claim the window's rows, re-read their subscribers and the suppression
    list (an unsubscribe committed before this point wins), and render the ones to send."""
    settings, now = batch.settings, batch.clock()
    lease = dt.timedelta(seconds=settings.lease_seconds)
    # A message must start early enough in its lease to finish (SMTP timeout) and commit.
    send_by = time.monotonic() + settings.lease_seconds - 1.5 * settings.smtp_timeout
    with transaction(batch.factory) as session:
        paused = _paused(batch, session)
        kinds = [DeliveryKind.alert] if paused else None
        claimed = ledger.claim_many(session, ids, now, lease, kinds=kinds)
        if paused and len(claimed) < len(ids):
            batch.stop = "paused"
        batch.report.not_claimed += len(ids) - len(claimed)
        if settings.daily_send_cap and claimed and not batch.dry_run:
            claimed = _within_cap(batch, session, claimed, now)
        rows = ledger.load_for_sending(session, claimed)
        suppressed = sending.suppressed_among(session, [r.address for r in rows if r.address])
        papers = _cards(batch, session, rows), ledger.reasons_for(session, rows)
        prepared = []
        for row in rows:
            with log_context(delivery_id=row.delivery.id):
                p = prepare(session, settings, row, row.address in suppressed, papers, now,
                             batch.report)  # fmt: skip
            if p is not None:
                prepared.append(dataclasses.replace(p, send_by=send_by))
    return prepared


def _cards(
    batch: _Batch, session: Session, rows: Sequence[ledger.Sendable]
) -> dict[int, PaperCard]:
    """The cards of the window's papers. The digests of an edition share a few hundred
    papers: a batch asks only for each paper's version, and reads and turns into a card only
    the papers this process has not seen at that version."""
    wanted = {pid for r in rows for pid in (*r.delivery.paper_ids, *r.delivery.trending_ids)}
    missing = wanted - batch.cards.keys()
    if not missing:
        return batch.cards
    stale = []
    for paper_id, version in ledger.paper_versions(session, missing).items():
        seen = _SEEN.get(paper_id)
        if seen is not None and seen[0] == version:
            batch.cards[paper_id] = seen[1]
        else:
            stale.append(paper_id)
    if len(_SEEN) > SEEN_PAPERS:
        _SEEN.clear()
    for paper in ledger.papers(session, stale):
        batch.cards[paper.id] = card_of(paper)
        _SEEN[paper.id] = (paper.updated_at, batch.cards[paper.id])
    return batch.cards


def _within_cap(batch: _Batch, session: Session, claimed: list[int], now: dt.datetime) -> list[int]:
    granted = sending.take_daily_quota(session, len(claimed), batch.settings.daily_send_cap, now)
    for delivery_id in claimed[granted:]:
        ledger.finish(session, delivery_id, DeliveryStatus.planned, now=now, refund_attempt=True,
                      retry_at=_tomorrow(now), error="daily sending cap reached")  # fmt: skip
    if granted < len(claimed):
        batch.stop = "cap"
        batch.report.deferred += len(claimed) - granted
    return claimed[:granted]


def _tomorrow(now: dt.datetime) -> dt.datetime:
    """When the daily cap (counted per UTC day) opens again."""
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)


def _release(batch: _Batch, prepared: Sequence[Prepared], why: str) -> None:
    """Hand claimed rows back untouched: a dry run, or a batch that stopped first."""
    now = batch.clock()
    retry_at = now + backoff(1, batch.settings) if batch.stop == "unreachable" else None
    with transaction(batch.factory) as session:
        for p in prepared:
            ledger.finish(session, p.delivery_id, DeliveryStatus.planned, now=now,
                          refund_attempt=True, error=why, retry_at=retry_at)  # fmt: skip
            log.info("%s: %s to %s", why, p.kind, p.message.recipient)
        ledger.mark_enqueued(session, [p.delivery_id for p in prepared], None)
    if batch.dry_run:
        batch.report.skipped += len(prepared)
    elif batch.stop is None:
        batch.report.not_claimed += len(prepared)  # handed back before their lease ran short
    elif batch.stop == "paused":
        batch.report.paused += len(prepared)
    else:
        batch.report.deferred += len(prepared)


def sweep_due(
    factory: Factory,
    now: dt.datetime,
    limit: int = 10_000,
    *,
    stale_after: dt.timedelta | None = None,
) -> list[int]:
    """Planned rows that are due and sending rows whose lease expired, marked as enqueued: the
    caller enqueues them again. With ``stale_after`` (the broker still holds messages), planned
    rows a task carried more recently than that are left to it. While sending is paused only
    operator alerts are swept."""
    with transaction(factory) as session:
        kinds = [DeliveryKind.alert] if sending.current_pause(session) else None
        stale_before = now - stale_after if stale_after is not None else None
        ids = ledger.due_ids(session, now, limit, stale_before, kinds)
        ledger.mark_enqueued(session, ids, now)
    return ids
