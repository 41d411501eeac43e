"""``paperpost bounces process``: read bounce and complaint reports from the bounce mailbox."""

from __future__ import annotations

import dataclasses

import typer

from service import pipeline
from service.cli.common import App, console, fail, now, print_json
from service.track.mailbox import open_source

app = typer.Typer(help="Bounces and complaints.", no_args_is_help=True)


@app.command()
def process(
    mailbox: str | None = typer.Option(
        None, help="A Maildir path or imaps://, pop3s:// URL; default PAPERPOST_BOUNCE_MAILBOX."
    ),
    limit: int = typer.Option(10_000, min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Parse delivery status notifications (RFC 3464) and ARF complaints, apply them (hard
    bounces and complaints suppress at once, soft bounces after a threshold), and mark each
    message processed."""
    ctx = App()
    spec = mailbox or ctx.settings.bounce_mailbox
    if not spec:
        fail("no mailbox: pass --mailbox or set PAPERPOST_BOUNCE_MAILBOX", 2)
    try:
        source = open_source(spec)
    except (OSError, ValueError) as exc:
        fail(f"cannot open the bounce mailbox: {exc}")
    try:
        report = pipeline.process_bounces(ctx.factory, ctx.settings, source, now(), limit)
    finally:
        source.close()
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        console.print(
            f"{report.messages} messages ({report.not_reports} not reports), {report.events} "
            f"events: {report.suppressed} suppressions, {report.duplicates} already seen, "
            f"{report.unknown} not ours"
        )
