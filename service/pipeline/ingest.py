"""Use cases: ingest papers from each source into the store, and record every run.

A run fetches and parses first (no transaction open while the network is slow), then stores
everything it kept and its ``IngestRun`` row in one transaction: a payload that cannot be used
stores nothing, a bad item is reported and the others are stored. A source that is down is
recorded as a failed run and never stops the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from service.config import Settings
from service.ingest import arxiv, files, hf, rss
from service.ingest.http import Fetcher, FetchError
from service.ingest.model import ParseResult, PayloadError
from service.observability.metrics import INGEST_ERRORS, PAPERS_INGESTED
from service.pipeline._types import Clock, Factory
from service.pipeline.enrich import Lookup, ids_to_enrich, lookup, store_lookup
from service.store.db import transaction
from service.store.models import IngestRun
from service.store.papers import upsert_papers

log = logging.getLogger("paperpost.ingest")
SOURCES = ("hf", "arxiv", "rss", "files")
Progress = Callable[[str, int, int | None], None]
Load = Callable[[], ParseResult]


@dataclass
class IngestReport:
    source: str
    target: str = ""
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # items not stored, each with its reason
    errors: list[str] = field(default_factory=list)  # what went wrong with the run itself
    failed: bool = False  # the source could not be read at all; nothing was stored
    enriched: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


def ingest_parsed(
    factory: Factory, source: str, target: str, parsed: ParseResult, now: dt.datetime
) -> IngestReport:
    """Store what a parser produced in one transaction, and record the run."""
    report = IngestReport(source, target, started_at=now)
    with transaction(factory) as session:
        _store(session, report, parsed, now)
        _record(session, report, now)
    return report


def ingest_file(factory: Factory, path: Path, now: dt.datetime) -> IngestReport:
    """Raises ``PayloadError`` (and stores nothing) when the file as a whole is unusable."""
    return ingest_parsed(factory, "file", str(path), files.read(path), now)


def ingest_hf(
    factory: Factory,
    settings: Settings,
    fetcher: Fetcher,
    clock: Clock,
    *,
    query: dict[str, str],
    days_back: int = 0,
    enrich: bool = True,
    progress: Progress | None = None,
) -> IngestReport:
    """One HF period (``hf.period(...)``), or today and ``days_back`` days before it."""
    queries = [query]
    if not query and days_back:
        today = clock().date()
        days = (today - dt.timedelta(days=d) for d in range(days_back + 1))
        queries = [{"date": day.isoformat()} for day in days]

    def load() -> ParseResult:
        result = ParseResult()
        for q in queries:
            result.extend(hf.fetch(fetcher, settings.hf_base_url, q, progress=_stage(progress)))
        return result

    target = ", ".join(v for q in queries for v in q.values()) or "today"
    helper = fetcher if enrich else None
    return run(factory, settings, "hf", target, clock, load, enrich_with=helper, progress=progress)


def ingest_arxiv(
    factory: Factory,
    settings: Settings,
    fetcher: Fetcher,
    clock: Clock,
    *,
    categories: Sequence[str],
    query: str | None = None,
    since: dt.datetime | None = None,
    max_results: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Newest submissions first, down to ``since``. Raises ValueError for a bad search."""
    search = arxiv.search_query(categories, query, since)

    def load() -> ParseResult:
        return arxiv.search(
            fetcher,
            settings.arxiv_api_url,
            search,
            since=since,
            max_results=max_results or settings.arxiv_max_results,
            progress=_stage(progress),
        )

    return run(factory, settings, "arxiv", search, clock, load, progress=progress)


def ingest_rss(
    factory: Factory,
    settings: Settings,
    fetcher: Fetcher,
    clock: Clock,
    *,
    categories: Sequence[str],
    include_cross: bool | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Today's announcements. Raises ValueError for a bad category."""
    url = rss.feed_url(settings.arxiv_rss_url, categories)
    cross = settings.rss_include_cross if include_cross is None else include_cross

    def load() -> ParseResult:
        return follow_announcements(rss.parse(fetcher.get(url).body), cross)

    return run(factory, settings, "rss", "+".join(categories), clock, load, progress=progress)


def follow_announcements(parsed: ParseResult, include_cross: bool) -> ParseResult:
    """Cross-lists not followed only refresh papers that are already stored."""
    if include_cross:
        return parsed
    kept = [
        dataclasses.replace(p, update_only=True) if p.announce_type == "cross" else p
        for p in parsed.papers
    ]
    return ParseResult(kept, parsed.errors, parsed.skipped, parsed.total)


def ingest_path(
    factory: Factory,
    settings: Settings,
    source: str,
    path: Path,
    clock: Clock,
    *,
    fetcher: Fetcher | None = None,
    include_cross: bool | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """A saved answer of ``source`` (format detected from the content), recorded as a run
    of that source; ``fetcher`` set: HF papers are looked up on arXiv as after a fetch."""
    cross = settings.rss_include_cross if include_cross is None else include_cross

    def load() -> ParseResult:
        return follow_announcements(files.read(path), cross)

    return run(factory, settings, source, str(path), clock, load, fetcher, progress)


def run(
    factory: Factory,
    settings: Settings,
    source: str,
    target: str,
    clock: Clock,
    load: Load,
    enrich_with: Fetcher | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Fetch and parse, look new papers up on arXiv (``enrich_with``), store, record."""
    report = IngestReport(source, target, started_at=clock())
    try:
        parsed = load()
    except (FetchError, PayloadError) as exc:
        return _failed(factory, report, str(exc), clock)
    found = Lookup()
    if enrich_with is not None:
        candidates = [p.arxiv_id for p in parsed.papers if not p.categories]
        wanted = ids_to_enrich(factory, settings, candidates, report.started_at or clock())
        found = lookup(enrich_with, settings, wanted, progress)
        report.errors.extend(found.errors)
    if progress:
        progress("store", 0, len(parsed.papers))
    now = clock()
    with transaction(factory) as session:
        _store(session, report, parsed, now)
        report.enriched = store_lookup(session, found, now) if enrich_with else 0
        _record(session, report, clock())
    if progress:
        progress("store", len(parsed.papers), len(parsed.papers))
    log.info("ingest %s %s: %s", source, target, _summary(report))
    return report


def _store(session: Session, report: IngestReport, parsed: ParseResult, now: dt.datetime) -> None:
    result = upsert_papers(session, parsed.papers, now)
    report.fetched = len(parsed.papers) + len(parsed.errors) + len(parsed.skipped)
    report.new, report.updated, report.unchanged = result.new, result.updated, result.unchanged
    report.skipped = [*parsed.errors, *parsed.skipped, *result.skipped]
    PAPERS_INGESTED.labels(source=report.source, result="new").inc(result.new)
    PAPERS_INGESTED.labels(source=report.source, result="updated").inc(result.updated)
    if parsed.errors:
        INGEST_ERRORS.labels(source=report.source).inc(len(parsed.errors))


def _record(session: Session, report: IngestReport, finished: dt.datetime) -> None:
    report.finished_at = finished
    session.add(
        IngestRun(
            source=report.source,
            target=report.target[:1_000],
            started_at=report.started_at or finished,
            finished_at=finished,
            fetched=report.fetched,
            new=report.new,
            updated=report.updated,
            skipped=len(report.skipped),
            errors=[*report.errors, *report.skipped][:200],
        )
    )


def _failed(factory: Factory, report: IngestReport, error: str, clock: Clock) -> IngestReport:
    report.failed = True
    report.errors.append(error)
    INGEST_ERRORS.labels(source=report.source).inc()
    log.warning("ingest %s %s failed: %s", report.source, report.target, error)
    with transaction(factory) as session:
        _record(session, report, clock())
    return report


def _stage(progress: Progress | None) -> Callable[[int, int | None], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress("fetch", done, total)


def _summary(report: IngestReport) -> str:
    return (
        f"fetched {report.fetched}, new {report.new}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {len(report.skipped)}, "
        f"errors {len(report.errors)}"
    )
