"""Use case: match new papers against every interest, and new interests against recent papers.

The beat job. Papers marked ``match_pending`` (inserted, or title, abstract or categories
changed) are run once against the index of every active subscriber's interests; subscribers
with a new or edited interest (``backfill_pending``) get the papers of the window run against
all their interests, so a first digest is not empty. Rarity statistics come from the window's
papers, as in ``paperpost match test``. Sentence vectors (papers, descriptions) are computed
once, outside the matching transaction, and stored.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import Settings
from service.match.combine import Holders, MatchTable
from service.match.compile import descriptions_of
from service.match.engine import Matched, Subscriptions, match_subscriptions
from service.match.index import prepare
from service.match.score import MatchConfig, config_from
from service.match.semantic import Encoder, load_encoder, pack, paper_text, unpack
from service.match.types import PaperDoc
from service.observability.metrics import MATCHES_WRITTEN
from service.pipeline._types import Factory
from service.pipeline.retention import matchable_since, retire_stale_papers
from service.store import matching
from service.store.db import transaction
from service.store.models import Paper
from service.store.sql import dialect_name

log = logging.getLogger(__name__)
Written = tuple[np.ndarray, list[int]]  # subscribers (any order, repeated) and paper ids
_LOCK = 0x7061_7065_726D  # "paperm": one match job at a time on PostgreSQL
_EMBED_BATCH = 64


@dataclass
class MatchReport:
    papers: int = 0  # pending papers matched against every interest
    interests: int = 0  # distinct active interests indexed
    matches: int = 0  # (subscriber, paper) rows written
    backfilled: int = 0  # subscribers whose new interests were run against the window
    window: int = 0  # papers in the window (rarity statistics, backfill)
    embedded_papers: int = 0
    embedded_descriptions: int = 0
    invalid: int = 0  # stored interests that no longer parse (skipped, logged)
    semantic: bool = False
    skipped: bool = False  # another match job was running
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds: load, match, write


def match_new_papers(
    factory: Factory,
    now: dt.datetime,
    window_days: int = 7,
    *,
    settings: Settings | None = None,
    encoder: Encoder | None = None,
) -> MatchReport:
    """Run pending papers against all interests, and new interests against recent papers."""
    started = time.perf_counter()
    config = config_from(settings) if settings is not None else MatchConfig()
    since = now - dt.timedelta(days=window_days)
    horizon = None
    if settings is not None:
        retire_stale_papers(factory, settings, now)  # older than the papers' retention age
        horizon = matchable_since(settings, now)
    report = MatchReport()
    if encoder is None and _has_descriptions(factory):
        encoder = load_encoder(settings.match_semantic if settings is not None else "auto")
    if encoder is not None:
        report.embedded_papers = embed_papers(factory, encoder, since, horizon)
        report.embedded_descriptions = embed_descriptions(factory, encoder, now)
    with transaction(factory) as session:
        if not _lock(session):
            report.skipped = True
            return report
        written = _match(session, report, config, now, since, horizon, encoder)
    if written:
        swept = time.perf_counter()
        with transaction(factory) as session:
            for subscribers, papers in written:
                matching.drop_orphans(session, subscribers, papers)
        report.phases["orphans"] = round(time.perf_counter() - swept, 3)
    report.seconds = round(time.perf_counter() - started, 3)
    MATCHES_WRITTEN.inc(report.matches)
    return report


def _match(
    session: Session,
    report: MatchReport,
    config: MatchConfig,
    now: dt.datetime,
    since: dt.datetime,
    horizon: dt.datetime | None,
    encoder: Encoder | None,
) -> list[Written]:
    """The run, in the job's transaction; returns what it wrote, for ``drop_orphans``."""
    pending = matching.pending_versions(session)
    backfill = matching.backfill_subscribers(session)
    written: list[Written] = []
    if not pending and not backfill:
        return written
    window = matching.paper_docs(
        session, matching.in_window(since, horizon), Paper.id.in_(list(pending))
    )
    report.window = len(window)
    vectors: dict[str, np.ndarray] | None = None
    if pending:
        started = time.perf_counter()
        targets = [p for p in window if p.id in pending]
        with ThreadPoolExecutor(1) as helper:  # texts analysed while the database groups
            analysed = helper.submit(prepare, window)
            subscriptions = matching.subscriptions(session)
            analysed.result()
        if encoder is not None:
            vectors = matching.text_vectors(session, descriptions_of(subscriptions.values))
        report.phases["load"] = round(time.perf_counter() - started, 3)
        run = _Run(session, report, targets, backfill, now)
        with ThreadPoolExecutor(1) as writer:
            for part, between in _parts(subscriptions):
                found = match_subscriptions(
                    targets, part, now=now, config=config, reference=window, encoder=encoder,
                    text_vectors=vectors,
                )  # fmt: skip
                run.matched(found)
                run.write(writer, found.table, between)
            run.finish()
        written.append((run.subscribers(), [p.id for p in targets]))
    if backfill:
        if encoder is not None and vectors is None:
            vectors = matching.text_vectors(
                session, descriptions_of(matching.description_values(session))
            )
        report.matches += _backfill(session, backfill, window, config, now, encoder, vectors)
        written.append((np.array(backfill, dtype=np.int64), [p.id for p in window]))
        report.backfilled = len(backfill)
    matching.clear_pending(session, pending)
    matching.finish_backfill(session, backfill)
    return written


PART_ROWS = 1_000_000  # interest holders per part: bounds the fan-out's memory


Bounds = tuple[int | None, int | None]  # subscriber ids from, up to (None: no bound)


def _parts(subscriptions: Subscriptions) -> list[tuple[Subscriptions, Bounds]]:
    """The subscriptions in parts of about ``PART_ROWS`` holders, by ranges of subscriber
    ids covering every id; each part keeps every distinct interest (the index is shared)."""
    holders = subscriptions.holders
    count = max(1, -(-len(holders.subscribers) // PART_ROWS))
    if count == 1:
        return [(subscriptions, (None, None))]
    cuts = np.quantile(holders.subscribers, np.arange(1, count) / count).astype(np.int64)
    bounds: list[int | None] = [None, *sorted(set(cuts.tolist())), None]
    interest = np.repeat(np.arange(len(holders.indptr) - 1), np.diff(holders.indptr))
    parts = []
    for low, high in itertools.pairwise(bounds):
        inside = np.flatnonzero(_within(holders.subscribers, low, high))
        counts = np.bincount(interest[inside], minlength=len(holders.indptr) - 1)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        part = Holders(indptr, holders.subscribers[inside], holders.weights[inside])
        every = Subscriptions(
            subscriptions.values, subscriptions.negated, part, subscriptions.limits
        )
        parts.append((every, (low, high)))
    return parts


def _within(ids: np.ndarray, low: int | None, high: int | None) -> np.ndarray:
    inside = np.ones(len(ids), dtype=bool)
    if low is not None:
        inside &= ids >= low
    if high is not None:
        inside &= ids < high
    return inside


class _Run:
    """The pending papers' matches, part by part. On PostgreSQL a part is written by a thread
    on the job's own connection while the next part is matched (the database's work on one
    core, the matching on the other; the session is never used by both at once); on SQLite
    it is written at once."""

    def __init__(
        self,
        session: Session,
        report: MatchReport,
        targets: Sequence[PaperDoc],
        backfill: Sequence[int],
        now: dt.datetime,
    ) -> None:
        self.session, self.report, self.targets, self.now = session, report, targets, now
        self.backfill = backfill
        self.overlap = dialect_name(session) == "postgresql"
        self.pending: Future[int] | None = None
        self.written: list[np.ndarray] = []
        report.papers = len(targets)
        report.phases["match"] = report.phases["write"] = 0.0

    def matched(self, found: Matched) -> None:
        self.report.interests, self.report.invalid = found.interests, found.invalid
        self.report.semantic = found.semantic
        self.report.phases["match"] += round(sum(found.seconds.values()), 3)

    def write(self, writer: ThreadPoolExecutor, table: MatchTable, between: Bounds) -> None:
        self.finish()  # one part at a time on the connection
        table = table.without(self.backfill)  # the backfill writes theirs
        self.written.append(table.subscribers)
        if self.overlap:
            self.pending = writer.submit(self._write, table, between)
        else:
            self.report.matches += self._write(table, between)

    def _write(self, table: MatchTable, between: Bounds) -> int:
        started = time.perf_counter()
        count = matching.replace_matches(
            self.session, table, self.targets, self.now, between=between
        )
        self.report.phases["write"] += round(time.perf_counter() - started, 3)
        return count

    def finish(self) -> None:
        if self.pending is not None:
            self.report.matches += self.pending.result()
            self.pending = None

    def subscribers(self) -> np.ndarray:
        return np.concatenate(self.written) if self.written else np.zeros(0, np.int64)


def _backfill(
    session: Session,
    subscribers: Sequence[int],
    window: Sequence[PaperDoc],
    config: MatchConfig,
    now: dt.datetime,
    encoder: Encoder | None,
    vectors: dict[str, np.ndarray] | None,
) -> int:
    """The window's papers against every interest of these subscribers; their undelivered
    matches in the window are replaced (an edited interest drops what no longer matches)."""
    written = 0
    for start in range(0, len(subscribers), 5_000):
        chunk = subscribers[start : start + 5_000]
        found = match_subscriptions(
            window, matching.subscriptions(session, chunk), now=now, config=config,
            reference=window, encoder=encoder, text_vectors=vectors,
        )  # fmt: skip
        written += matching.replace_matches(session, found.table, window, now, chunk)
    return written


def _has_descriptions(factory: Factory) -> bool:
    with transaction(factory) as session:
        return matching.has_descriptions(session)


def _lock(session: Session) -> bool:
    if dialect_name(session) != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already serialises writers
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK}))


def embed_papers(
    factory: Factory, encoder: Encoder, since: dt.datetime, horizon: dt.datetime | None = None
) -> int:
    """Vectors for the window's and the pending papers that have none (or a stale one),
    computed outside any transaction and stored in small ones."""
    with transaction(factory) as session:
        papers = matching.paper_docs(
            session, matching.in_window(since, horizon), Paper.match_pending.is_(True)
        )
    missing = [p for p in papers if unpack(p.embedding, paper_text(p.title, p.summary)) is None]
    for start in range(0, len(missing), _EMBED_BATCH):
        batch = missing[start : start + _EMBED_BATCH]
        texts = [paper_text(p.title, p.summary) for p in batch]
        blobs = {
            p.id: pack(vector, text)
            for p, text, vector in zip(batch, texts, encoder.encode(texts), strict=True)
        }
        with transaction(factory) as session:
            matching.store_paper_vectors(session, blobs)
    return len(missing)


def embed_descriptions(factory: Factory, encoder: Encoder, now: dt.datetime) -> int:
    """Each distinct description embedded once and stored, shared by all who wrote it."""
    with transaction(factory) as session:
        texts = descriptions_of(matching.description_values(session))
        missing = sorted(texts - matching.text_vectors(session, texts).keys())
    for start in range(0, len(missing), _EMBED_BATCH * 8):
        batch = missing[start : start + _EMBED_BATCH * 8]
        vectors = dict(zip(batch, encoder.encode(batch), strict=True))
        with transaction(factory) as session:
            matching.store_text_vectors(session, vectors, now)
    return len(missing)
