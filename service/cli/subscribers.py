"""``paperpost subscribers ...``: the people who get digests.

``remove`` unsubscribes and keeps the record and its history; ``erase`` deletes the person's
data and keeps only a hash of the address on the suppression list, so it is never mailed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cli import subscriber_files
from service.cli.common import (
    App,
    confirm_or_stop,
    fail,
    key_values,
    now,
    print_json,
    say,
    table,
)
from service.store.models import Frequency, Subscriber, SubscriberStatus
from service.track import operator
from service.track.addresses import InvalidAddress
from service.track.events import UnknownSubscriber, erase_subscriber, find_subscriber, unsubscribe

app = typer.Typer(help="Subscribers: add, list, show, edit, remove, erase, import, export.",
                  no_args_is_help=True)  # fmt: skip
app.command("import")(subscriber_files.import_csv)
app.command("export")(subscriber_files.export)

STATUS_HELP = "pending, active, unsubscribed or suppressed."
INTEREST = typer.Option(None, "--interest", "-i", help="An interest; repeat for more.")
TIMEZONE = typer.Option(None, help="IANA time zone, e.g. Europe/Berlin (default UTC).")
HOUR = typer.Option(None, min=0, max=23, help="Local hour to send at (default 8).")
FREQUENCY = typer.Option(None, help="daily or weekly (default daily).")
WEEKDAY = typer.Option(None, min=0, max=6, help="Weekly digests: 0 = Monday (default).")
MAX_PAPERS = typer.Option(None, min=1, max=50, help="Papers per digest (default 10).")
TRENDING = typer.Option(None, "--trending/--no-trending", help="Add the trending papers.")
FORMAT = typer.Option(None, "--format", help="html or text (default html).")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def subscriber_json(s: Subscriber) -> dict[str, Any]:
    return {
        "id": s.id, "email": s.email, "status": s.status, "timezone": s.timezone,
        "hour": s.send_hour, "frequency": s.frequency, "weekday": s.weekday,
        "max_papers": s.max_papers, "include_trending": s.include_trending,
        "format": s.format, "interests": [i.value for i in s.interests],
        "paused_until": s.paused_until, "created_at": s.created_at,
        "confirmed_at": s.confirmed_at, "unsubscribed_at": s.unsubscribed_at,
        "last_digest_at": s.last_digest_at,
    }  # fmt: skip


@contextmanager
def subscriber(email: str, ctx: App | None = None) -> Iterator[tuple[Session, Subscriber]]:
    """The subscriber in a transaction; a clear exit 1 when there is no such address."""
    try:
        with (ctx or App()).session() as session:
            yield session, find_subscriber(session, email)
    except (UnknownSubscriber, InvalidAddress) as exc:
        fail(f"{exc} (see `paperpost subscribers list`)")
    except operator.InvalidChange as exc:
        fail(f"{exc}; nothing was changed")


def _change(
    *, interests: list[str] | None, frequency: Frequency | None, **fields: Any
) -> operator.Change:
    return operator.Change(
        interests=tuple(interests) if interests is not None else None,
        frequency=frequency.value if frequency else None,
        **fields,
    )


@app.command()
def add(
    email: str,
    interest: list[str] | None = INTEREST,
    timezone: str | None = TIMEZONE,
    hour: int | None = HOUR,
    frequency: Frequency | None = FREQUENCY,
    weekday: int | None = WEEKDAY,
    max_papers: int | None = MAX_PAPERS,
    trending: bool | None = TRENDING,
    confirmed: bool = typer.Option(False, help="The person already consented: make them active."),
    mail: bool = typer.Option(
        True, help="Queue the confirmation (or, with --confirmed, welcome) mail."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Add a subscriber: pending with a confirmation mail, or active with --confirmed."""
    change = _change(interests=interest or [], frequency=frequency, timezone=timezone,
                     send_hour=hour, weekday=weekday, max_papers=max_papers,
                     include_trending=trending)  # fmt: skip
    ctx = App()
    try:
        with ctx.session() as session:
            created = operator.create_subscriber(
                session, ctx.settings, email, change, now(), confirmed=confirmed, mail=mail
            )
            out = subscriber_json(created)
    except (InvalidAddress, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print_json(out)
        return
    queued = {True: " (welcome mail queued)", False: " (confirmation mail queued)"}
    say(f"added {out['email']} ({out['status']}){queued[confirmed] if mail else ''}")


@app.command("list")
def list_subscribers(
    status: SubscriberStatus | None = typer.Option(None, help=STATUS_HELP),
    search: str | None = typer.Option(None, help="Only addresses containing this text."),
    limit: int = typer.Option(1000, min=1, help="At most this many (newest last)."),
    as_json: bool = AS_JSON,
) -> None:
    """List subscribers."""
    with App().session() as session:
        query = select(Subscriber)
        if status:
            query = query.where(Subscriber.status == status.value)
        if search:
            query = query.where(Subscriber.email.contains(search.lower(), autoescape=True))
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = [
            subscriber_json(s) for s in session.scalars(query.order_by(Subscriber.id).limit(limit))
        ]
    if as_json:
        print_json(rows)
        return
    shown = f"{len(rows)} of {total}" if total != len(rows) else f"{total}"
    table(
        f"{shown} subscribers",
        ["email", "status", "schedule", "interests"],
        [(r["email"], r["status"], _schedule(r), "; ".join(r["interests"])) for r in rows],
    )


def _schedule(r: dict[str, Any]) -> str:
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[r["weekday"]]
    when = f"weekly {day}" if r["frequency"] == Frequency.weekly else str(r["frequency"])
    return f"{when} {r['hour']:02d}:00 {r['timezone']}"


@app.command()
def show(email: str, as_json: bool = AS_JSON) -> None:
    """Everything about one subscriber: settings, interests, mail sent, recent events."""
    with subscriber(email) as (session, found):
        record = subscriber_json(found)
        more = operator.details(session, found)
    if as_json:
        print_json({**record, **more})
        return
    key_values(record["email"], {k: v for k, v in record.items() if k != "email"})
    if more["suppression"]:
        say(f"suppressed: {more['suppression']['reason']} since "
                      f"{more['suppression']['since']:%Y-%m-%d}")  # fmt: skip
    table("mail", ["kind", "status", "count"],
          [(d["kind"], d["status"], d["count"]) for d in more["deliveries"]])  # fmt: skip
    table("recent events", ["at", "kind", "source", "detail"],
          [(f"{e['at']:%Y-%m-%d %H:%M}", e["kind"], e["source"], e["detail"] or "")
           for e in more["events"]])  # fmt: skip


@app.command()
def edit(
    email: str,
    interest: list[str] | None = typer.Option(
        None,
        "--interest",
        "-i",
        help="Replace the interests (repeat for more); `paperpost interests` adds or removes one.",
    ),
    timezone: str | None = TIMEZONE,
    hour: int | None = HOUR,
    frequency: Frequency | None = FREQUENCY,
    weekday: int | None = WEEKDAY,
    max_papers: int | None = MAX_PAPERS,
    trending: bool | None = TRENDING,
    format: str | None = FORMAT,
    as_json: bool = AS_JSON,
) -> None:
    """Change a subscriber's schedule, format or interests (only the options given)."""
    change = _change(interests=interest, frequency=frequency, timezone=timezone, send_hour=hour,
                     weekday=weekday, max_papers=max_papers, include_trending=trending,
                     format=format)  # fmt: skip
    with subscriber(email) as (session, found):
        changed = operator.apply_change(session, found, change, now(), "cli")
        out = subscriber_json(found)
    if as_json:
        print_json({**out, "changed": changed})
    else:
        say(
            f"{out['email']}: "
            + (f"changed {', '.join(changed)}" if changed else "nothing to change")
        )


@app.command()
def confirm(
    email: str,
    mail: bool = typer.Option(True, help="Queue the welcome mail with the preferences link."),
) -> None:
    """Make a pending subscriber active, on your word that they consented."""
    ctx = App()
    with subscriber(email, ctx) as (session, found):
        status = found.status
        changed = operator.confirm(session, ctx.settings, found, now(), mail)
    if not changed:
        fail(f"{email} is {status}, not pending: nothing to confirm")
    say(f"{email}: active" + (" (welcome mail queued)" if mail else ""))


@app.command()
def remove(email: str) -> None:
    """Unsubscribe EMAIL; the record and its history are kept."""
    with subscriber(email) as (session, found):
        changed = unsubscribe(session, found, now(), "cli")
    say(f"{email}: {'unsubscribed' if changed else 'was already unsubscribed'}")


@app.command()
def erase(email: str, yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Delete EMAIL's data for good (GDPR erasure); only a hash stays, so it is never mailed."""
    confirm_or_stop(f"Erase {email} and everything kept about them?", yes)
    with subscriber(email) as (session, found):
        erase_subscriber(session, found, now(), "cli")
    say(f"{email}: erased (a hash of the address stays on the suppression list)")
