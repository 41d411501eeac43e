"""``paperpost match`` runs the match stage now; ``paperpost match test`` shows what interests
would get from the stored papers, with the beat job's matching function and threshold."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import typer

from service import pipeline
from service.cli.common import App, console, err, fail, now, print_json, table
from service.match.preview import PreviewHit, describes, preview_interests, window
from service.match.query import InterestSyntaxError, parse_interest
from service.match.semantic import SemanticUnavailable, load_encoder
from service.pipeline.match import embed_papers

app = typer.Typer(
    help="Match papers to interests: run the stage now, or test an interest.",
    invoke_without_command=True,
)


@app.callback()
def match(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Match pending papers against all interests (and new interests against recent papers)."""
    if ctx.invoked_subcommand is not None:
        return
    app_ctx = App()
    settings = app_ctx.settings
    try:
        report = pipeline.match_new_papers(
            app_ctx.factory, now(), settings.match_window_days, settings=settings
        )
    except SemanticUnavailable as exc:
        fail(str(exc))
    if as_json:
        print_json(dataclasses.asdict(report))
    elif report.skipped:
        console.print("another match job is running; nothing done")
    else:
        console.print(
            f"{report.papers} papers x {report.interests} interests: {report.matches} matches"
            + (
                f", {report.backfilled} new subscribers' interests backfilled"
                if report.backfilled
                else ""
            )
        )


@app.command("test")
def test(
    interests: list[str] = typer.Argument(..., help='One or more interests, e.g. "mamba -survey".'),
    limit: int = typer.Option(10, "--limit", "-n", min=1, help="How many papers to show."),
    days: int | None = typer.Option(None, help="Look back this many days (default: the window)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The ranked stored papers INTEREST would have matched, with scores and reasons."""
    try:
        parsed = [parse_interest(text) for text in interests]
    except InterestSyntaxError as exc:
        _syntax_error(exc, next(t for t in interests if _fails(t)), as_json)
    ctx = App()
    at = now()
    try:
        if describes(interests):
            _store_paper_vectors(ctx, at, days)
        with ctx.session() as session:
            hits = preview_interests(session, ctx.settings, interests, at, limit, days)
    except SemanticUnavailable as exc:
        fail(str(exc))
    if as_json:
        print_json({"interests": [p.describe() for p in parsed], "papers": [_hit(h) for h in hits]})
        return
    for p in parsed:
        console.print(f"[bold]{p.text}[/] ({p.kind}): {p.explain()}", highlight=False)
        for note in p.notes:
            console.print(f"  note: {note}", highlight=False)
    if not hits:
        console.print("no stored paper of the window would match; try --days 30")
        return
    table(
        f"{len(hits)} papers",
        ["#", "score", "paper", "title", "why"],
        [(n, f"{h.score:.2f}", h.arxiv_id, h.title, "; ".join(h.reasons))
         for n, h in enumerate(hits, start=1)],
    )  # fmt: skip


def _store_paper_vectors(ctx: App, at: dt.datetime, days: int | None) -> None:
    """A description is matched by meaning against every paper of the window: embed the ones
    with no stored vector once and keep them, as the match job does, rather than embedding
    them again for every preview (and so keyword phrases find related papers too)."""
    encoder = load_encoder(ctx.settings.match_semantic)
    if encoder is not None:
        since, horizon = window(ctx.settings, at, days)
        embed_papers(ctx.factory, encoder, since, horizon)


def _fails(text: str) -> bool:
    try:
        parse_interest(text)
    except InterestSyntaxError:
        return True
    return False


def _syntax_error(exc: InterestSyntaxError, text: str, as_json: bool) -> None:
    if as_json:
        print_json(
            {"error": exc.message, "position": exc.position, "hint": exc.hint, "interest": text}
        )
        raise typer.Exit(1)
    err.print(exc.caret(text), highlight=False, markup=False)
    fail(str(exc))


def _hit(hit: PreviewHit) -> dict[str, Any]:
    return dataclasses.asdict(hit) | {"reasons": list(hit.reasons)}
