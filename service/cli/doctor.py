"""``paperpost doctor``: check the database, the broker, the relay login, the DNS records of the
sender domain, the secret key and the public URL, and say what to fix. Exit 1 when any check
fails (warnings alone exit 0)."""

from __future__ import annotations

import dataclasses

import typer
from rich.markup import escape

from service.cli.common import App, busy, fail, print_json, say, table
from service.observability.dnscheck import make_resolver
from service.observability.doctor import run_checks

MARK = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}


def doctor(
    offline: bool = typer.Option(
        False, "--offline", help="Skip the network checks (relay, DNS, public URL)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check that this instance can work, and say what to fix."""
    ctx = App()
    with busy("checking"):
        findings = run_checks(ctx.settings, ctx.factory, make_resolver(), offline=offline)
    failed = [f for f in findings if f.status == "fail"]
    if as_json:
        print_json([dataclasses.asdict(f) for f in findings])
    else:
        table("paperpost doctor", ["check", "", "detail"],
              [(f.name, MARK[f.status], escape(f.detail)) for f in findings])  # fmt: skip
    if failed:
        fail(f"{len(failed)} checks failed: {', '.join(f.name for f in failed)}")
    if not as_json:
        warned = sum(f.status == "warn" for f in findings)
        say("all checks passed" + (f" ({warned} warnings)" if warned else ""))
