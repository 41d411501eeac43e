"""``paperpost plan | deliver | deliveries ...``: the outbox, and running its stages in process."""

from __future__ import annotations

import dataclasses

import typer

from service import pipeline
from service.cli.common import App, console, fail, now, print_json, table
from service.send.mailer import SmtpMailer
from service.send.ratelimit import make_limiter
from service.store import sending
from service.store.models import DeliveryKind, DeliveryStatus

app = typer.Typer(help="The outbox: every mail, its state and its history.", no_args_is_help=True)


def plan(as_json: bool = typer.Option(False, "--json")) -> None:
    """Create the digests that are due now, with their papers fixed."""
    ctx = App()
    report = pipeline.plan_editions(ctx.factory, ctx.settings, now())
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        console.print(
            f"planned {len(report.planned)} digests, {report.empty} empty skipped, "
            f"{report.existing} already planned, {report.missed} missed slots recorded"
        )


def deliver(
    dry_run: bool = typer.Option(False, "--dry-run", help="Claim and render, send nothing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Send every planned delivery that is due, over SMTP, now, in this process."""
    ctx = App()
    total = pipeline.DeliverReport()
    limiter = make_limiter(ctx.settings)
    seen: set[int] = set()
    while ids := [i for i in pipeline.sweep_due(ctx.factory, now(), ctx.settings.batch_size)
                  if i not in seen]:  # fmt: skip
        seen.update(ids)  # a dry run leaves rows due: visit each once
        mailer = SmtpMailer(ctx.settings)
        report = pipeline.deliver_batch(
            ctx.factory, ctx.settings, mailer, ids, now, limiter=limiter, dry_run=dry_run
        )
        total.add(report)
        if report.paused or report.sent + report.failed + report.skipped == 0:
            break  # paused, or everything left is waiting for a retry
    if as_json:
        print_json(dataclasses.asdict(total))
        return
    verb = "would send" if dry_run else "sent"
    console.print(
        f"{verb} {total.skipped if dry_run else total.sent}, retry later {total.retry}, "
        f"failed {total.failed}, skipped {0 if dry_run else total.skipped}, "
        f"deferred {total.deferred}, paused {total.paused}"
    )


@app.command("list")
def list_(
    edition: str | None = typer.Option(None, help="An edition key: 2026-09-27 or 2026-W39."),
    status: DeliveryStatus | None = typer.Option(None),
    kind: DeliveryKind | None = typer.Option(None),
    limit: int = typer.Option(50, min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Deliveries, newest first."""
    with App().session() as session:
        rows = sending.list_deliveries(session, edition, status, kind, limit)
    if as_json:
        print_json([dataclasses.asdict(r) for r in rows])
        return
    table(
        "deliveries",
        ["id", "kind", "to", "edition", "status", "reason", "attempts", "code", "sent"],
        [(r.id, r.kind, r.address, r.edition_key, r.status + (" (ambiguous)" * r.ambiguous),
          r.failure_reason, r.attempts, r.last_smtp_code,
          r.sent_at.strftime("%Y-%m-%d %H:%M") if r.sent_at else "") for r in rows],
    )  # fmt: skip


@app.command()
def retry(delivery_id: int) -> None:
    """Queue a failed or skipped delivery again (same Message-ID, fresh attempts)."""
    try:
        with App().session() as session:
            was = sending.retry_delivery(session, delivery_id, now())
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    console.print(f"delivery {delivery_id} ({was}) is planned again; a worker sends it shortly")


@app.command()
def resume() -> None:
    """Lift a sending pause (policy refusals, authentication, complaint rate)."""
    with App().session() as session:
        lifted = sending.resume(session, now())
    if lifted is None:
        console.print("sending was not paused")
    else:
        console.print(f"sending resumed (paused since {lifted.since}: {lifted.reason})")
