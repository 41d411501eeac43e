"""``paperpost ingest ...``: bring papers in from the sources or from saved files.

Each command shows a progress bar (on stderr) and a summary: fetched, new, updated, unchanged
and skipped with the reasons; ``--json`` prints the report for scripts. A source that cannot be
read exits with 1 after the summary; the run is recorded either way (``ingest runs``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service import pipeline
from service.cli.common import App, console, err, fail, now, print_json, table
from service.ingest import hf
from service.ingest.http import Fetcher, policy_for
from service.pipeline.ingest import SOURCES

app = typer.Typer(help="Ingest papers from the sources or from files.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print the report as JSON.")
DATE = ["%Y-%m-%d"]
DATETIME = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
ProgressFn = Callable[[str, int, int | None], None]


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressFn | None]:
    if not enabled or not err.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = int(bar.add_task(stage, total=total))
            bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def show(reports: list[pipeline.IngestReport], as_json: bool) -> None:
    """Print the summaries; exit 1 when a source could not be read."""
    if as_json:
        data = [dataclasses.asdict(r) for r in reports]
        print_json(data[0] if len(data) == 1 else data)
    for report in reports if not as_json else ():
        _show_one(report)
    if any(r.failed for r in reports):
        raise typer.Exit(1)


def _show_one(report: pipeline.IngestReport) -> None:
    console.print(
        f"{escape(report.source)} {escape(report.target)}: fetched {report.fetched}, "
        f"new {report.new}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}"
        + (f", enriched {report.enriched} from arXiv" if report.enriched else ""),
        highlight=False,
    )
    for reason in report.skipped[:20]:
        console.print(f"  skipped: {escape(reason)}", highlight=False)
    if len(report.skipped) > 20:
        console.print(f"  ... and {len(report.skipped) - 20} more", highlight=False)
    for error in report.errors:
        err.print(f"[bold red]error:[/] {escape(error)}", highlight=False)
    if report.failed:
        err.print("  (nothing was stored)", highlight=False)


def _fetcher(ctx: App) -> Fetcher:
    return Fetcher(policy_for(ctx.settings))


@app.command("hf")
def ingest_hf(
    date: dt.datetime | None = typer.Option(None, formats=DATE, help="A day, YYYY-MM-DD."),
    week: str | None = typer.Option(None, help="An ISO week, YYYY-Www (2025-W37)."),
    month: str | None = typer.Option(None, help="A month, YYYY-MM."),
    file: Path | None = typer.Option(None, "--file", help="A saved answer instead of the API."),
    enrich: bool | None = typer.Option(
        None, "--enrich/--no-enrich", help="Look papers up on arXiv (default: on, off for --file)."
    ),
    as_json: bool = JSON,
) -> None:
    """Hugging Face Daily Papers: today (default), one day, week or month."""
    try:
        query = hf.period(date.date() if date else None, week, month)
    except ValueError as exc:
        fail(str(exc), 2)
    ctx = App()
    with _fetcher(ctx) as fetcher, progress_bar(not as_json) as progress:
        if file is not None:
            helper = fetcher if enrich else None
            report = pipeline.ingest_path(
                ctx.factory, ctx.settings, "hf", file, now, fetcher=helper, progress=progress
            )
        else:
            report = pipeline.ingest_hf(
                ctx.factory, ctx.settings, fetcher, now, query=query,
                enrich=enrich is not False, progress=progress,
            )  # fmt: skip
    show([report], as_json)


@app.command("arxiv")
def ingest_arxiv(
    category: list[str] = typer.Option([], "--category", "-c", help="cs.LG, math.GT..."),
    query: str | None = typer.Option(None, "--query", "-q", help="Words, or arXiv syntax."),
    since: dt.datetime | None = typer.Option(None, formats=DATETIME, help="Submitted since."),
    max_results: int | None = typer.Option(None, "--max", min=1, max=30_000),
    file: Path | None = typer.Option(None, "--file", help="A saved API answer (Atom)."),
    as_json: bool = JSON,
) -> None:
    """The arXiv API: newest submissions in categories and/or matching a query."""
    ctx = App()
    categories = category or ([] if query or file else list(ctx.settings.arxiv_categories))
    when = since.replace(tzinfo=since.tzinfo or dt.UTC) if since else None
    with _fetcher(ctx) as fetcher, progress_bar(not as_json) as progress:
        if file is not None:
            report = pipeline.ingest_path(
                ctx.factory, ctx.settings, "arxiv", file, now, progress=progress
            )
        else:
            try:
                report = pipeline.ingest_arxiv(
                    ctx.factory, ctx.settings, fetcher, now, categories=categories,
                    query=query, since=when, max_results=max_results, progress=progress,
                )  # fmt: skip
            except ValueError as exc:
                fail(str(exc), 2)
    show([report], as_json)


@app.command("rss")
def ingest_rss(
    categories: list[str] = typer.Argument(None, help="Categories (default: the configured)."),
    cross: bool | None = typer.Option(
        None, "--cross/--no-cross", help="Take cross-lists as new papers too."
    ),
    file: Path | None = typer.Option(None, "--file", help="A saved RSS or Atom feed."),
    as_json: bool = JSON,
) -> None:
    """arXiv's daily announcement feed (rss.arxiv.org) for one or more categories."""
    ctx = App()
    chosen = list(categories or ctx.settings.arxiv_categories)
    with _fetcher(ctx) as fetcher, progress_bar(not as_json) as progress:
        if file is not None:
            report = pipeline.ingest_path(
                ctx.factory, ctx.settings, "rss", file, now, include_cross=cross, progress=progress
            )
        else:
            try:
                report = pipeline.ingest_rss(
                    ctx.factory, ctx.settings, fetcher, now, categories=chosen,
                    include_cross=cross, progress=progress,
                )  # fmt: skip
            except ValueError as exc:
                fail(str(exc), 2)
    show([report], as_json)


@app.command("file")
def ingest_file(
    path: Path = typer.Argument(..., help="HF or arXiv API or feed answer, or paperpost JSON."),
    as_json: bool = JSON,
) -> None:
    """Ingest papers from a file; the format is detected from its content."""
    ctx = App()
    report = pipeline.ingest_path(ctx.factory, ctx.settings, "file", path, now)
    show([report], as_json)


@app.command("run")
def ingest_run(
    sources: list[str] = typer.Argument(None, help="hf, arxiv, rss, files (default: configured)."),
    as_json: bool = JSON,
) -> None:
    """Run sources now, as the beat would; one that is down does not stop the others."""
    ctx = App()
    settings = ctx.settings
    if sources:
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            fail(f"unknown source {unknown[0]!r}; known: {', '.join(SOURCES)}", 2)
        settings = settings.model_copy(update={"ingest_sources": list(sources)})
    with _fetcher(ctx) as fetcher:
        reports = pipeline.ingest_configured(ctx.factory, settings, fetcher, now)
    show(reports, as_json)


@app.command("enrich")
def enrich(
    ids: list[str] = typer.Argument(None, help="arXiv ids (default: all still waiting)."),
    as_json: bool = JSON,
) -> None:
    """Complete papers with arXiv categories, affiliations and comments."""
    from service.ingest.ids import InvalidArxivId, canonical_arxiv_id

    try:
        wanted = [canonical_arxiv_id(i) for i in ids or ()]
    except InvalidArxivId as exc:
        fail(str(exc), 2)
    ctx = App()
    with _fetcher(ctx) as fetcher, progress_bar(not as_json) as progress:
        report = pipeline.enrich_papers(ctx.factory, ctx.settings, fetcher, now(), wanted, progress)
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    console.print(f"asked {report.asked}, enriched {report.enriched}, failed {report.failed}")
    for error in report.errors:
        err.print(f"[bold red]error:[/] {escape(error)}", highlight=False)


@app.command("runs")
def runs(
    source: str | None = typer.Option(None, help="Only this source."),
    limit: int = typer.Option(20, min=1, max=1_000),
    as_json: bool = JSON,
) -> None:
    """The latest recorded ingest runs."""
    found = pipeline.recent_runs(App().factory, limit, source)
    if as_json:
        print_json([dataclasses.asdict(r) for r in found])
        return
    table(
        f"{len(found)} runs",
        ["started (UTC)", "source", "target", "fetched", "new", "updated", "skipped", "problems"],
        [(f"{r.started_at:%Y-%m-%d %H:%M}", escape(r.source), escape(r.target[:40]), r.fetched,
          r.new, r.updated, r.skipped, escape(r.errors[0][:80]) if r.errors else "")
         for r in found],
    )  # fmt: skip
