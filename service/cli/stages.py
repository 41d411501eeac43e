"""``paperpost match | preview``: run one stage now, in process (``plan`` and ``deliver``
live with the outbox commands in ``deliveries.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from service import pipeline, preview
from service.cli.common import App, console, fail, now, print_json
from service.track.addresses import InvalidAddress
from service.track.events import UnknownSubscriber


def match(as_json: bool = typer.Option(False, "--json")) -> None:
    """Match pending papers against all interests (and new interests against recent papers)."""
    ctx = App()
    report = pipeline.match_new_papers(ctx.factory, now(), ctx.settings.match_window_days)
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        console.print(
            f"{report.papers} papers x {report.interests} interests: {report.matches} matches"
        )


def preview_command(
    email: str,
    html: Path | None = typer.Option(None, help="Write the HTML part here."),
    text: Path | None = typer.Option(None, help="Write the text part here."),
    eml: Path | None = typer.Option(None, help="Write the whole message (.eml) here."),
) -> None:
    """Render the digest EMAIL would get now, without sending or reserving anything."""
    ctx = App()
    try:
        with ctx.session() as session:
            composed = preview.preview_digest(session, ctx.settings, email, now())
    except (UnknownSubscriber, InvalidAddress) as exc:
        fail(str(exc))
    for path, content in ((html, composed.html), (text, composed.text)):
        if path:
            path.write_text(content, encoding="utf-8")
    if eml:
        eml.write_bytes(composed.data)
    if not (html or text or eml):
        typer.echo(composed.text)
    else:
        console.print(f"subject: {composed.subject}", highlight=False, markup=False)
