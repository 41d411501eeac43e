"""Use case: complete papers through the arXiv API (``id_list``, batched, paced by the fetcher).

HF Daily Papers carry no arXiv categories, affiliations or comments, so each HF ingest looks
its papers up before storing them: ``cat:cs.CV`` then finds HF-trending papers from the first
match run on. A lookup that fails (arXiv down, an id arXiv does not list yet) leaves the paper
to be matched on what it has; ``enrich_attempts`` counts the failures and later runs try again
until ``enrich_max_attempts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from service.config import Settings
from service.ingest import arxiv
from service.ingest.http import Fetcher, FetchError
from service.ingest.model import PayloadError, RawPaper
from service.observability.metrics import INGEST_ERRORS
from service.pipeline._types import Factory
from service.store import papers
from service.store.db import transaction

RETRY_WINDOW = dt.timedelta(days=7)  # older papers are not looked up again
RETRY_LIMIT = 500  # ids retried per run, on top of the run's own papers

Progress = Callable[[str, int, int | None], None]


@dataclass
class Lookup:
    """What the arXiv API said about a set of ids."""

    found: list[RawPaper] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # not answered, or not known to arXiv
    errors: list[str] = field(default_factory=list)


@dataclass
class EnrichReport:
    asked: int = 0
    enriched: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def ids_to_enrich(
    factory: Factory, settings: Settings, candidates: Sequence[str], now: dt.datetime
) -> list[str]:
    """Of ``candidates``, those without arXiv data, plus earlier papers whose lookup failed."""
    with transaction(factory) as session:
        wanted = papers.needing_enrichment(session, candidates, settings.enrich_max_attempts)
        retry = papers.due_for_enrichment(
            session, now - RETRY_WINDOW, settings.enrich_max_attempts, RETRY_LIMIT
        )
    return list(dict.fromkeys([*wanted, *retry]))


def lookup(
    fetcher: Fetcher,
    settings: Settings,
    ids: Sequence[str],
    progress: Progress | None = None,
) -> Lookup:
    """Ask arXiv in batches; a failed batch fails only its own ids."""
    result = Lookup()
    size = settings.enrich_batch
    for start in range(0, len(ids), size):
        batch = list(ids[start : start + size])
        try:
            answer = arxiv.lookup(fetcher, settings.arxiv_api_url, batch)
        except (FetchError, PayloadError) as exc:
            result.failed.extend(batch)
            result.errors.append(f"arXiv lookup of {len(batch)} papers failed: {exc}")
            INGEST_ERRORS.labels(source="enrich").inc()
        else:
            known = {p.arxiv_id for p in answer.papers}
            result.found.extend(answer.papers)
            result.failed.extend(i for i in batch if i not in known)
        if progress:
            progress("enrich", min(start + size, len(ids)), len(ids))
    return result


def store_lookup(session: Session, found: Lookup, now: dt.datetime) -> int:
    """Merge what arXiv said; count a failed attempt for the rest. Returns papers enriched."""
    result = papers.upsert_papers(
        session, [p for p in found.found if p.categories or p.authors], now
    )
    papers.count_enrich_attempt(session, found.failed)
    return result.new + result.updated + result.unchanged


def enrich_papers(
    factory: Factory,
    settings: Settings,
    fetcher: Fetcher,
    now: dt.datetime,
    ids: Sequence[str] = (),
    progress: Progress | None = None,
) -> EnrichReport:
    """Look up ``ids`` (or every paper still waiting for arXiv data) and store the answers."""
    wanted = ids_to_enrich(factory, settings, ids, now)
    found = lookup(fetcher, settings, wanted, progress)
    with transaction(factory) as session:
        enriched = store_lookup(session, found, now)
    return EnrichReport(len(wanted), enriched, len(found.failed), found.errors)
