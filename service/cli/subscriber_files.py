"""``paperpost subscribers import CSV`` and ``subscribers export``: the CSV format is in
``service/track/csvfile.py`` and the README ("Importing subscribers")."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.cli.common import App, err, fail, now, print_json, progress_over, say
from service.store.models import Subscriber, SubscriberStatus
from service.track import operator
from service.track.csvfile import CsvError, Row, read_rows, write_rows

CHUNK = 500


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


def import_csv(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The CSV file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; store nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import subscribers from CSV (email,interests,timezone,hour,frequency,weekday,status).
    Every row is checked first: one bad row and nothing is imported. Importing the same file
    again changes nothing; unsubscribed and suppressed people are never made active."""
    try:
        rows, problems = read_rows(path.read_text(encoding="utf-8-sig"))
    except (CsvError, UnicodeDecodeError) as exc:
        fail(f"{path}: {exc}")
    if problems:
        for problem in problems[:200]:
            err.print(f"{path}:{problem}", markup=False, highlight=False, soft_wrap=True)
        fail(
            f"{len({p.line for p in problems})} bad rows ({len(problems)} problems) in {path}; "
            "fix them and import again (nothing was imported)"
        )
    report = _apply(App(), rows, dry_run)
    if as_json:
        print_json({**dataclasses.asdict(report), "dry_run": dry_run})
        return
    verb = "would import" if dry_run else "imported"
    say(
        f"{verb} {len(rows)} rows: {report.created} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.skipped)} left as they are"
    )
    for line in report.skipped:
        say(f"  {line}")
    if dry_run:
        say("dry run: nothing was stored")


def _apply(ctx: App, rows: list[Row], dry_run: bool) -> operator.ImportReport:
    """One transaction for the whole file, rolled back on a dry run."""
    report = operator.ImportReport()
    chunks = [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]
    with ctx.factory() as session:
        transaction = session.begin()
        for chunk in progress_over(chunks, "importing", threshold=2):
            operator.import_rows(session, chunk, now(), report)
            session.flush()
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return report


def export(
    format: ExportFormat = typer.Option(ExportFormat.csv, "--format", help="csv or json."),
    status: SubscriberStatus | None = typer.Option(None, help="Only subscribers in this status."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not to stdout."),
) -> None:
    """Export subscribers as CSV (the import format, so it round-trips) or JSON."""
    ctx = App()
    with ctx.factory() as session:
        if output is None:
            count = _write(session, format, status, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = _write(session, format, status, out)
    if output is not None:
        say(f"exported {count} subscribers to {output}")


def _write(
    session: Session, format: ExportFormat, status: SubscriberStatus | None, out: TextIO
) -> int:
    from service.cli.subscribers import subscriber_json

    query = select(func.count()).select_from(Subscriber)
    if status is not None:
        query = query.where(Subscriber.status == status.value)
    total = session.scalar(query) or 0
    shown = out is not sys.stdout or not sys.stdout.isatty()  # never over the CSV on screen
    walk = progress_over(_walk(session, status), "exporting", total=total if shown else 0)
    records = (subscriber_json(s) for s in walk)
    if format is ExportFormat.csv:
        return write_rows(records, out)
    count = 0
    out.write("[")
    for count, record in enumerate(records, start=1):
        out.write(
            ("," if count > 1 else "")
            + "\n  "
            + json.dumps(record, default=str, ensure_ascii=False)
        )
    out.write("\n]\n" if count else "]\n")
    return count


def _walk(session: Session, status: SubscriberStatus | None) -> Iterator[Subscriber]:
    """Every subscriber by keyset pages, so a large list never sits in memory at once."""
    after = 0
    while True:
        query = (
            select(Subscriber)
            .where(Subscriber.id > after)
            .order_by(Subscriber.id)
            .limit(CHUNK)
            .options(selectinload(Subscriber.interests))
        )
        if status is not None:
            query = query.where(Subscriber.status == status.value)
        page = list(session.scalars(query))
        yield from page
        if len(page) < CHUNK:
            return
        after = page[-1].id
        session.expunge_all()
