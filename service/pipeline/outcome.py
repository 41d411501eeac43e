"""Recording what the relay said about one message (RELIABILITY.md 1.5), each outcome in its
own transaction right after the reply: sent; retried later with the same Message-ID
(transient, ambiguous); failed and suppressed (hard bounce); failed with an alert (the relay
refuses the bytes); or handed back while sending pauses (policy, authentication)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.observability.metrics import SEND_SECONDS, SMTP_REPLIES
from service.pipeline._types import Factory
from service.send.mailer import Outcome, Outgoing, SendResult
from service.store import ledger, sending
from service.store.db import transaction
from service.store.models import (
    DeliveryKind,
    DeliveryStatus,
    FailureReason,
    Subscriber,
)
from service.track import bounces
from service.track.alerts import raise_alert

if TYPE_CHECKING:
    from service.pipeline.deliver import DeliverReport

log = logging.getLogger("paperpost.deliver")


@dataclass(frozen=True, slots=True)
class Prepared:
    delivery_id: int
    message: Outgoing
    kind: str
    attempts: int
    created_at: dt.datetime
    subscriber_id: int | None = None
    send_by: float = float("inf")  # time.monotonic() after which the lease is too short


def backoff(attempts: int, settings: Settings | None = None) -> dt.timedelta:
    """base x 2^(n-1), capped, with jitter over the upper half (1 min .. 30 min by default)."""
    base = settings.retry_base_seconds if settings else 60.0
    cap = settings.retry_cap_seconds if settings else 1800.0
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay / 2 + random.random() * delay / 2)


class Recorder:
    """Where a batch writes its plain ``sent`` outcomes on PostgreSQL: a group commit on an
    asynchronous connection the batch holds. A message's sender waits for the commit of the
    group its row joined, and keeps its SMTP slot meanwhile, so at most ``smtp_pool_size``
    accepted messages per process are ever unrecorded; while a commit waits for the disk, the
    event loop goes on with the other connections, and one commit (one WAL flush) records
    every 250 that arrived during the previous one. Everything else, and SQLite, gets a
    transaction of its own (``record_outcome``)."""

    def __init__(self, factory: Factory, durable: bool = True) -> None:
        bind = factory.kw.get("bind")
        postgres = isinstance(bind, Engine) and bind.dialect.name == "postgresql"
        self._url = (
            bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
            if isinstance(bind, Engine) and postgres
            else None
        )
        self.durable = durable
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[tuple[ledger.SentRow, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    @property
    def grouped(self) -> bool:
        return self._url is not None

    async def sent(self, p: Prepared, result: SendResult, now: dt.datetime) -> None:
        """Record ``sent`` for ``p``; returns once the group holding it is committed, and
        raises what the commit raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append(((p.delivery_id, result.code, result.reply, now), done))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_groups())
        await done

    async def _commit_groups(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                conn = await self._connection()
                params = ledger.sent_group_params([row for row, _ in group])
                await conn.execute(ledger.SENT_GROUP, params)
            except Exception as exc:  # noqa: BLE001 (every waiter must wake, whatever failed)
                await self._drop()
                for _, done in group:
                    done.set_exception(exc)
            else:
                for _, done in group:
                    done.set_result(None)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            assert self._url is not None
            self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            if not self.durable:
                await self._conn.execute("SET synchronous_commit = off")
        return self._conn

    async def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None

    async def close(self) -> None:
        """Give the connection back (every group has been awaited by its senders)."""
        if self._committer is not None:
            with contextlib.suppress(Exception):
                await self._committer
        await self._drop()


async def record_outcome(
    factory: Factory,
    settings: Settings,
    p: Prepared,
    result: SendResult,
    now: dt.datetime,
    seconds: float,
    report: DeliverReport,
    recorder: Recorder | None = None,
) -> None:
    """Commit what the relay said about ``p``. A plain ``sent`` in a steady run goes through
    the batch's group commit; the first ``sent`` after refusals ends their run here."""
    SMTP_REPLIES.labels(result.outcome.value).inc()
    SEND_SECONDS.observe(seconds)
    steady = report.sent and not (report.retry or report.failed)
    if result.outcome is Outcome.sent and steady and recorder is not None and recorder.grouped:
        await recorder.sent(p, result, now)
        report.sent += 1
        return
    with transaction(factory) as session:
        if result.outcome is Outcome.sent:
            _sent(session, p, result, now)
            if report.sent == 0 or report.retry or report.failed:  # end a run of refusals
                sending.reset_policy_run(session, now)
            report.sent += 1
        elif result.outcome is Outcome.bounced:
            _bounced(session, settings, p, result, now)
            report.failed += 1
        elif result.outcome is Outcome.rejected:
            _rejected(session, settings, p, result, now)
            report.failed += 1
        elif result.outcome is Outcome.policy:
            _refused(session, settings, p, result, now)
            report.retry += 1
        else:
            gave_up = _retry(session, settings, p, result, now)
            report.failed += gave_up
            report.retry += not gave_up


def _sent(session: Session, p: Prepared, result: SendResult, now: dt.datetime) -> None:
    ledger.finish(session, p.delivery_id, DeliveryStatus.sent, now=now, code=result.code,
                  error=result.reply)  # fmt: skip
    if p.kind == DeliveryKind.digest and p.subscriber_id is not None:
        session.execute(
            update(Subscriber).where(Subscriber.id == p.subscriber_id).values(last_digest_at=now)
        )


def _bounced(
    session: Session, settings: Settings, p: Prepared, result: SendResult, now: dt.datetime
) -> None:
    ledger.finish(session, p.delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                  error=result.reply, reason=FailureReason.bounced)  # fmt: skip
    event = bounces.FeedbackEvent(
        event_id=f"smtp:{p.delivery_id}:{p.attempts}",
        kind=bounces.EventKind.hard_bounce,
        address=p.message.recipient,
        delivery_id=p.delivery_id,
        source="smtp",
        detail={"reply": f"{result.code} {result.reply}"[:300]},
    )
    bounces.apply_event(session, settings, event, now)


def _rejected(
    session: Session, settings: Settings, p: Prepared, result: SendResult, now: dt.datetime
) -> None:
    ledger.finish(session, p.delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                  error=result.reply, reason=FailureReason.poison)  # fmt: skip
    log.error("delivery %s: relay rejected the message: %s %s", p.delivery_id, result.code,
              result.reply)  # fmt: skip
    raise_alert(session, settings, now, "rejected", "The relay rejected a message as malformed",
                [f"Delivery {p.delivery_id}: {result.code} {result.reply}"])  # fmt: skip


def _refused(
    session: Session, settings: Settings, p: Prepared, result: SendResult, now: dt.datetime
) -> None:
    """The relay refuses us, not the recipient: nothing is held against the address; the row
    goes back to the queue, and sending pauses at once (authentication, sender refused) or
    after a run of ``policy_pause_after`` consecutive refusals."""
    ledger.finish(session, p.delivery_id, DeliveryStatus.planned, now=now, code=result.code,
                  error=result.reply, refund_attempt=True,
                  retry_at=now + backoff(1, settings))  # fmt: skip
    run = sending.count_policy_failure(session, now)
    if not result.stops_sending and run < settings.policy_pause_after:
        return
    reason = f"{result.code} {result.reply}".strip()
    if sending.pause(session, reason, now):
        raise_alert(
            session, settings, now, "sending-paused", "Sending paused: the relay refuses us",
            [f"After {run} refusal(s) the last reply was: {reason}",
             "Fix the cause, then run: paperpost deliveries resume"],
        )  # fmt: skip


def _retry(
    session: Session, settings: Settings, p: Prepared, result: SendResult, now: dt.datetime
) -> bool:
    """Transient or ambiguous: again later with the same Message-ID, until the attempt limit or
    ``give_up_hours``; a recipient that kept deferring counts one soft bounce. True if given up."""
    ambiguous = result.outcome is Outcome.ambiguous
    expired = now - p.created_at >= dt.timedelta(hours=settings.give_up_hours)
    if p.attempts < settings.max_attempts and not expired:
        ledger.finish(session, p.delivery_id, DeliveryStatus.planned, now=now, code=result.code,
                      error=result.reply, retry_at=now + backoff(p.attempts, settings),
                      ambiguous=ambiguous)  # fmt: skip
        return False
    ledger.finish(session, p.delivery_id, DeliveryStatus.failed, now=now, code=result.code,
                  error=result.reply, reason=FailureReason.gave_up,
                  ambiguous=ambiguous)  # fmt: skip
    if result.stage == "rcpt":
        event = bounces.FeedbackEvent(
            event_id=f"smtp:{p.delivery_id}:gave-up", kind=bounces.EventKind.soft_bounce,
            address=p.message.recipient, delivery_id=p.delivery_id, source="smtp",
            detail={"reply": f"{result.code} {result.reply}"[:300]},
        )  # fmt: skip
        bounces.apply_event(session, settings, event, now)
    return True
