"""Gauges of the stored state, computed from the database when Prometheus scrapes.

A custom collector rather than gauges set by the stages: the database is the truth, every web
process reports the same figures, and nothing drifts when a worker dies mid-task. The figures are
cached for a few seconds so several scrapers do not multiply the queries; when the database does
not answer, ``paperpost_database_up`` is 0 and the rest is left out (never a failed scrape).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store import figures

log = logging.getLogger("paperpost.metrics")
Clock = Callable[[], dt.datetime]
BrokerDepth = Callable[[], int | None]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Snapshot:
    outbox: figures.Outbox
    window: figures.Window
    subscribers: dict[str, int]
    papers_waiting: int
    last_ingest: dt.datetime | None
    paused: bool | None  # None when the sending switch is not known to this build


def take_snapshot(session: Session, settings: Settings, now: dt.datetime) -> Snapshot:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL statement_timeout = 5000"))
    since = now - dt.timedelta(hours=settings.alert_window_hours)
    return Snapshot(
        outbox=figures.outbox(session, now),
        window=figures.window(session, since),
        subscribers=figures.subscribers_by_status(session),
        papers_waiting=figures.papers_waiting_for_match(session),
        last_ingest=figures.last_ingest(session),
        paused=_paused(session),
    )


def _paused(session: Session) -> bool | None:
    try:
        from service.store.sending import current_pause
    except ImportError:  # pragma: no cover - the sending switch ships with the delivery engine
        return None
    return current_pause(session) is not None


def redis_queue_depth(broker_url: str, queues: Sequence[str] = ("celery",)) -> BrokerDepth | None:
    """Messages waiting in the Redis broker's queues; None for other brokers."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return None

    def depth() -> int | None:
        import redis

        client = redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return sum(int(client.llen(queue)) for queue in queues)
        except redis.RedisError as exc:
            log.warning("broker queue depth: %s", exc)
            return None
        finally:
            client.close()

    return depth


class DatabaseCollector(Collector):
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: Clock = utcnow,
        cache_seconds: float = 5.0,
        broker_depth: BrokerDepth | None = None,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._broker_depth = broker_depth
        self._lock = threading.Lock()
        self._cached: tuple[float, Snapshot] | None = None

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self._cache_seconds:
                return self._cached[1]
            with self._factory() as session, session.begin():
                snap = take_snapshot(session, self._settings, self._clock())
            self._cached = (time.monotonic(), snap)
            return snap

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("paperpost_database_up", "1 when the database answered the scrape.")
        try:
            snap = self.snapshot()
        except (SQLAlchemyError, OSError) as exc:  # never a failed scrape: say it is down
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _outbox(snap)
        yield from _window(snap, self._settings.alert_window_hours)
        yield from _state(snap)
        if self._broker_depth is not None and (depth := self._broker_depth()) is not None:
            yield GaugeMetricFamily(
                "paperpost_broker_queue_length", "Tasks waiting in the broker.", value=depth
            )


def _labelled(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([str(key)], value)
    return family


def _outbox(snap: Snapshot) -> Iterable[Metric]:
    yield _labelled(
        "paperpost_outbox_deliveries", "Mails waiting in the outbox, by status.", "status",
        snap.outbox.by_status,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "paperpost_queue_depth",
        "Deliveries due now: planned and due, or sending with an expired lease.",
        value=snap.outbox.due,
    )
    yield GaugeMetricFamily(
        "paperpost_queue_oldest_due_seconds",
        "How long the oldest due delivery has been waiting.",
        value=snap.outbox.oldest_due_seconds,
    )


def _window(snap: Snapshot, hours: float) -> Iterable[Metric]:
    w = snap.window
    span = f"in the last {hours:g} h (PAPERPOST_ALERT_WINDOW_HOURS)"
    yield _labelled(
        "paperpost_recent_deliveries", f"Finished deliveries by status {span}.", "status",
        {"sent": w.sent, "failed": w.failed, "skipped": w.skipped},
    )  # fmt: skip
    yield _labelled(
        "paperpost_recent_failures", f"Failed deliveries by reason {span}.", "reason",
        w.failed_by_reason,
    )  # fmt: skip
    for name, value, doc in (
        ("failure_rate", w.failure_rate, "failed / (sent + failed)"),
        ("bounce_rate", w.bounce_rate, "hard bounces / sent"),
        ("complaint_rate", w.complaint_rate, "complaints / sent"),
    ):
        yield GaugeMetricFamily(f"paperpost_{name}", f"{doc}, {span}.", value=value)


def _state(snap: Snapshot) -> Iterable[Metric]:
    yield _labelled("paperpost_subscribers", "Subscribers by status.", "status", snap.subscribers)
    yield GaugeMetricFamily(
        "paperpost_papers_waiting_for_match",
        "Papers stored and not matched yet.",
        value=snap.papers_waiting,
    )
    if snap.last_ingest is not None:
        yield GaugeMetricFamily(
            "paperpost_last_ingest_timestamp_seconds",
            "When an ingest run last stored a new paper (Unix time).",
            value=snap.last_ingest.timestamp(),
        )
    if snap.paused is not None:
        yield GaugeMetricFamily(
            "paperpost_sending_paused", "1 while sending is paused.", value=int(snap.paused)
        )
