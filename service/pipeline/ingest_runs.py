"""Use cases around the ingest runs: what the beat starts for each source, the recorded runs,
and the operator warning when a weekday brought no new paper at all."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select

from service.config import Settings
from service.ingest import hf
from service.ingest.http import Fetcher
from service.observability.metrics import ALERTS_RAISED
from service.pipeline._types import Clock, Factory
from service.pipeline.ingest import (
    SOURCES,
    IngestReport,
    ingest_arxiv,
    ingest_hf,
    ingest_path,
    ingest_rss,
)
from service.store.db import transaction
from service.store.models import IngestRun
from service.track.alerts import raise_alert

log = logging.getLogger("paperpost.ingest")
ARXIV_LOOKBACK = dt.timedelta(days=2)  # scheduled searches overlap; the upsert dedupes
NO_NEW_PAPERS = "ingest_no_new_papers"


@dataclass(frozen=True)
class RunView:
    id: int
    source: str
    target: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    fetched: int
    new: int
    updated: int
    skipped: int
    errors: tuple[str, ...]


def ingest_source(
    factory: Factory, settings: Settings, fetcher: Fetcher, clock: Clock, source: str
) -> list[IngestReport]:
    """What the beat runs for one source, with the settings' targets. Never raises for a
    source that is down: the failure is a recorded run."""
    if source == "hf":
        report = ingest_hf(
            factory, settings, fetcher, clock, query=hf.period(), days_back=settings.hf_days_back
        )
        return [report]
    if source == "rss":
        return [ingest_rss(factory, settings, fetcher, clock, categories=settings.arxiv_categories)]
    if source == "arxiv":
        since = clock() - ARXIV_LOOKBACK
        report = ingest_arxiv(
            factory,
            settings,
            fetcher,
            clock,
            categories=settings.arxiv_categories,
            query=settings.arxiv_query,
            since=since,
        )
        return [report]
    if source == "files":
        return [ingest_path(factory, settings, "file", p, clock) for p in settings.ingest_files]
    raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


def ingest_configured(
    factory: Factory, settings: Settings, fetcher: Fetcher, clock: Clock
) -> list[IngestReport]:
    """Every source switched on in the settings, one after the other; one that fails for an
    unexpected reason is logged and recorded, and the next one still runs."""
    reports: list[IngestReport] = []
    for source in settings.ingest_sources:
        try:
            reports.extend(ingest_source(factory, settings, fetcher, clock, source))
        except Exception as exc:
            log.exception("ingest %s failed", source)
            reports.append(_record_crash(factory, source, clock, exc))
    return reports


def _record_crash(factory: Factory, source: str, clock: Clock, exc: Exception) -> IngestReport:
    now = clock()
    error = f"{type(exc).__name__}: {exc}"[:500]
    report = IngestReport(source, failed=True, errors=[error], started_at=now, finished_at=now)
    with transaction(factory) as session:
        session.add(IngestRun(source=source, target="", started_at=now, finished_at=now,
                              errors=[error]))  # fmt: skip
    return report


def check_new_papers(factory: Factory, settings: Settings, now: dt.datetime) -> bool:
    """On a weekday (UTC), warn the operator when today's runs stored no new paper.
    Returns True when the warning was raised (at most one mail a day, by ``raise_alert``)."""
    if now.weekday() >= 5:
        return False
    day_start = dt.datetime.combine(now.date(), dt.time(0), dt.UTC)
    with transaction(factory) as session:
        runs = session.scalars(
            select(IngestRun).where(IngestRun.started_at >= day_start).order_by(IngestRun.id)
        ).all()
        if any(r.new for r in runs):
            return False
        lines = [_run_line(r) for r in runs[-20:]] or ["No ingest run was recorded today."]
        subject = f"No new papers on {now.date().isoformat()}"
        raise_alert(session, settings, now, NO_NEW_PAPERS, subject, [
            f"Today's ingest runs ({len(runs)}) stored no new paper. A holiday is one reason; "
            "a source that is down or has changed its format is another. The runs:",
            *lines,
            "Check with `paperpost ingest runs` and the worker logs.",
        ])  # fmt: skip
        ALERTS_RAISED.labels(NO_NEW_PAPERS).inc()
    return True


def _run_line(run: IngestRun) -> str:
    problem = f"; {run.errors[0]}" if run.errors else ""
    return (
        f"{run.started_at:%H:%M} UTC {run.source} {run.target or ''}: fetched {run.fetched}, "
        f"new {run.new}, updated {run.updated}{problem}"
    )


def recent_runs(factory: Factory, limit: int = 20, source: str | None = None) -> list[RunView]:
    with transaction(factory) as session:
        query = select(IngestRun).order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
        if source:
            query = query.where(IngestRun.source == source)
        return [
            RunView(r.id, r.source, r.target or "", r.started_at, r.finished_at, r.fetched,
                    r.new, r.updated, r.skipped, tuple(r.errors))
            for r in session.scalars(query.limit(limit))
        ]  # fmt: skip
