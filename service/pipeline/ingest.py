"""Use case: ingest papers from a source into the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from service.ingest import files
from service.ingest.model import ParseResult
from service.pipeline._types import Factory
from service.store.db import transaction
from service.store.models import (
    IngestRun,
)
from service.store.papers import upsert_papers


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
