"""``paperpost stats``: per edition, planned, sent, skipped, failed and bounced; the send rate;
the queue depth (outbox backlog, and messages waiting in the broker)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import typer

from service.cli.common import App, console, now, print_json, table
from service.config import Settings
from service.store import sending


def broker_depth(settings: Settings, queue: str = "celery") -> int | None:
    """Messages waiting in the broker queue, or None when it cannot be asked."""
    from kombu import Connection  # type: ignore[attr-defined]

    try:
        with Connection(settings.broker_url, connect_timeout=3) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1)
            return int(conn.default_channel.queue_declare(queue, passive=True).message_count)
    except Exception:  # noqa: BLE001 - absent queue or unreachable broker: unknown
        return None


def stats(
    editions: int = typer.Option(7, min=1, help="How many recent editions."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Delivery figures per edition, the send rate, and what is waiting."""
    ctx = App()
    at = now()
    with ctx.session() as session:
        rows = sending.edition_stats(session, editions)
        last_minute = sending.sent_since(session, at - dt.timedelta(minutes=1))
        last_hour = sending.sent_since(session, at - dt.timedelta(hours=1))
        backlog = sending.backlog(session, at)
        paused = sending.current_pause(session)
    rate = round(last_minute / 60, 2)
    queue: dict[str, int | None] = {**backlog, "broker": broker_depth(ctx.settings)}
    if as_json:
        print_json({
            "editions": [dataclasses.asdict(r) for r in rows],
            "send_rate": {"per_second_last_minute": rate, "last_hour": last_hour},
            "queue": queue,
            "paused": dataclasses.asdict(paused) if paused else None,
        })  # fmt: skip
        return
    table("editions (digests)", ["edition", "planned", "sending", "sent", "skipped", "failed",
                                  "bounced", "complaints"],
          [(r.edition_key, r.planned, r.sending, r.sent, r.skipped, r.failed, r.bounced,
            r.complaints) for r in rows])  # fmt: skip
    console.print(f"send rate: {rate}/s over the last minute, {last_hour} in the last hour")
    broker = "unknown" if queue["broker"] is None else queue["broker"]
    console.print(
        f"queue: {queue['due']} due, {queue['retry_later']} waiting for a retry, "
        f"{queue['sending']} being sent, broker holds {broker} task(s)"
    )
    if paused:
        console.print(f"[bold red]sending is paused[/] since {paused.since}: {paused.reason}")
