"""The admin CLI, ``paperpost``: one Typer app assembled from a module per command group."""

from __future__ import annotations

import typer

from service.cli import (
    bounces,
    common,
    db,
    deliveries,
    doctor,
    ingest,
    interests,
    match,
    papers,
    preview,
    runtime,
    stats,
    subscribers,
    suppressions,
    web,
)

app = typer.Typer(
    help="paperpost: research papers matched to each subscriber, delivered by mail.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.call_on_close(common.close_engines)


app.add_typer(db.app, name="db")
app.add_typer(ingest.app, name="ingest")
app.add_typer(papers.app, name="papers")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(interests.app, name="interests")
app.add_typer(match.app, name="match")
app.command("plan")(deliveries.plan)
app.command("deliver")(deliveries.deliver)
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(suppressions.app, name="suppressions")
app.add_typer(bounces.app, name="bounces")
app.command("stats")(stats.stats)
app.command("preview")(preview.preview_command)
app.command("send-test")(preview.send_test)
app.command("inbox")(runtime.inbox)
app.command("worker")(runtime.worker)
app.command("beat")(runtime.beat)
app.command("run")(runtime.run)
app.command("web")(web.web)
app.command("doctor")(doctor.doctor)


def _register_demo() -> None:
    from service.cli import demo

    app.command("demo")(demo.demo)


_register_demo()


def main() -> None:
    app()
