"""``paperpost subscribers ...``: the people who get digests."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy import select

from service.cli.common import App, console, fail, now, print_json, table
from service.plan.schedule import zone
from service.store.models import Frequency, Subscriber
from service.track.addresses import InvalidAddress
from service.track.events import (
    SubscriberInput,
    UnknownSubscriber,
    add_subscriber,
    find_subscriber,
    unsubscribe,
)

app = typer.Typer(help="Subscribers.", no_args_is_help=True)


def subscriber_json(s: Subscriber) -> dict[str, Any]:
    return {
        "id": s.id, "email": s.email, "status": s.status, "timezone": s.timezone,
        "hour": s.send_hour, "frequency": s.frequency, "weekday": s.weekday,
        "max_papers": s.max_papers, "include_trending": s.include_trending,
        "format": s.format, "interests": [i.value for i in s.interests],
        "created_at": s.created_at, "confirmed_at": s.confirmed_at,
        "unsubscribed_at": s.unsubscribed_at, "last_digest_at": s.last_digest_at,
    }  # fmt: skip


@app.command()
def add(
    email: str,
    interest: list[str] = typer.Option(
        [], "--interest", "-i", help="An interest; repeat for more."
    ),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. Europe/Berlin."),
    hour: int = typer.Option(8, min=0, max=23, help="Local hour to send at."),
    frequency: Frequency = typer.Option(Frequency.daily),
    weekday: int = typer.Option(0, min=0, max=6, help="Weekly digests: 0 = Monday."),
    confirmed: bool = typer.Option(False, help="The person already consented: make them active."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a subscriber (pending until confirmed, unless --confirmed)."""
    if zone(timezone).key != timezone:
        fail(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)")
    data = SubscriberInput(email, interest, timezone, hour, frequency, weekday)
    try:
        with App().session() as session:
            subscriber = add_subscriber(session, data, now(), "cli", confirmed)
            out = subscriber_json(subscriber)
    except (InvalidAddress, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print_json(out)
    else:
        console.print(f"added {out['email']} ({out['status']})")


@app.command("list")
def list_subscribers(
    status: str | None = typer.Option(None, help="pending, active, unsubscribed or suppressed"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List subscribers."""
    with App().session() as session:
        query = select(Subscriber).order_by(Subscriber.id)
        if status:
            query = query.where(Subscriber.status == status)
        rows = [subscriber_json(s) for s in session.scalars(query)]
    if as_json:
        print_json(rows)
        return
    table(
        f"{len(rows)} subscribers",
        ["email", "status", "schedule", "interests"],
        [(r["email"], r["status"], f"{r['frequency']} {r['hour']:02d}:00 {r['timezone']}",
          "; ".join(r["interests"])) for r in rows],
    )  # fmt: skip


@app.command()
def remove(email: str) -> None:
    """Unsubscribe EMAIL; the record and its history are kept."""
    try:
        with App().session() as session:
            changed = unsubscribe(session, find_subscriber(session, email), now(), "cli")
    except (UnknownSubscriber, InvalidAddress) as exc:
        fail(str(exc))
    console.print(f"{email}: {'unsubscribed' if changed else 'was already unsubscribed'}")
