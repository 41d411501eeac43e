"""``paperpost ingest ...``: bring papers in from files and sources."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from service import pipeline
from service.cli.common import App, console, fail, now, print_json
from service.ingest.model import PayloadError

app = typer.Typer(help="Ingest papers.", no_args_is_help=True)


def show_report(report: pipeline.IngestReport, as_json: bool) -> None:
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    console.print(
        f"{report.source}: fetched {report.fetched}, new {report.new}, "
        f"updated {report.updated}, unchanged {report.unchanged}, skipped {len(report.skipped)}"
    )
    for reason in report.skipped[:20]:
        console.print(f"  skipped: {reason}", highlight=False)


@app.command("file")
def ingest_file(
    path: Path = typer.Argument(..., help="HF daily papers JSON, or paperpost JSON / JSONL."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Ingest papers from a file; the format is detected from its content."""
    ctx = App()
    try:
        report = pipeline.ingest_file(ctx.factory, path, now())
    except PayloadError as exc:
        fail(f"{exc} (nothing was stored)")
    show_report(report, as_json)
