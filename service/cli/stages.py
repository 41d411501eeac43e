"""``paperpost match``: run one stage now, in process (``plan`` and ``deliver`` live with the
outbox commands in ``deliveries.py``, ``preview`` and ``send-test`` in ``preview.py``)."""

from __future__ import annotations

import dataclasses

import typer

from service import pipeline
from service.cli.common import App, console, now, print_json


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
