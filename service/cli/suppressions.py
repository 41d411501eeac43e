"""``paperpost suppressions list | add | remove``: addresses that are never mailed."""

from __future__ import annotations

import dataclasses

import typer

from service.cli.common import App, console, fail, now, print_json, table
from service.track.addresses import InvalidAddress
from service.track.suppressions import add_suppression, list_suppressions, remove_suppression

app = typer.Typer(help="The suppression list (never pruned).", no_args_is_help=True)


@app.command("list")
def list_(
    reason: str | None = typer.Option(
        None, help="unsubscribe, hard_bounce, soft_bounce, complaint, manual, erased."
    ),
    limit: int = typer.Option(1000, min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Suppressed addresses, newest first."""
    with App().session() as session:
        rows = list_suppressions(session, reason, limit)
    if as_json:
        print_json([dataclasses.asdict(r) for r in rows])
        return
    table("suppressions", ["email", "reason", "since", "note"],
          [(r.email or "(erased)", r.reason, r.created_at.strftime("%Y-%m-%d %H:%M"), r.note)
           for r in rows])  # fmt: skip


@app.command()
def add(email: str, note: str | None = typer.Option(None)) -> None:
    """Never mail EMAIL again (the subscriber, if any, is suppressed)."""
    try:
        with App().session() as session:
            new = add_suppression(session, email, now(), note)
    except InvalidAddress as exc:
        fail(str(exc))
    console.print(f"{email} suppressed" if new else f"{email} was already suppressed")


@app.command()
def remove(email: str) -> None:
    """Allow mail to EMAIL again."""
    try:
        with App().session() as session:
            removed = remove_suppression(session, email, now())
    except InvalidAddress as exc:
        fail(str(exc))
    if not removed:
        fail(f"{email} is not suppressed")
    console.print(f"{email} may be mailed again")
