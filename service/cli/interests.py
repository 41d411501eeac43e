"""``paperpost interests add | remove | list``: one subscriber's interests, or what everyone
follows. Interests are checked with the matching engine's parser; an error says where and how
to fix it. A new interest is run against the last days of papers at the next match."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy import func, select

from service.cli.common import App, now, print_json, say, table
from service.cli.subscribers import subscriber
from service.match.query import InterestSyntaxError, parse_interest
from service.store.models import Interest, Subscriber, SubscriberStatus
from service.track import operator

app = typer.Typer(help="Interests: add, remove, list.", no_args_is_help=True)


def _understood(value: str) -> tuple[str, str]:
    try:
        parsed = parse_interest(value)
    except InterestSyntaxError as exc:
        return "invalid", str(exc)
    return parsed.kind, parsed.text


@app.command()
def add(
    email: str,
    interest: list[str] = typer.Argument(..., help='One or more, e.g. diffusion "state space".'),
) -> None:
    """Add interests to a subscriber (the ones they already have are left alone)."""
    with subscriber(email) as (session, found):
        added = operator.add_interests(session, found, interest, now())
    if not added:
        say(f"{email}: already follows {'; '.join(interest)}")
        return
    say(f"{email}: added {'; '.join(added)}")


@app.command()
def remove(
    email: str, interest: list[str] = typer.Argument(..., help="Exactly as listed.")
) -> None:
    """Remove interests from a subscriber."""
    with subscriber(email) as (session, found):
        removed = operator.remove_interests(session, found, interest, now())
    say(f"{email}: removed {'; '.join(removed)}")


@app.command("list")
def list_interests(
    email: str | None = typer.Argument(None, help="One subscriber; without it, all interests."),
    limit: int = typer.Option(100, min=1, help="All interests: the most followed first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A subscriber's interests and how each is understood, or the most followed interests."""
    rows = _of(email) if email else _popular(limit)
    if as_json:
        print_json(rows)
    elif email:
        table(f"{email}: {len(rows)} interests", ["interest", "kind", "understood as", "since"],
              [(r["interest"], r["kind"], r["understood_as"], f"{r['created_at']:%Y-%m-%d}")
               for r in rows])  # fmt: skip
    else:
        table(f"{len(rows)} interests of active subscribers", ["interest", "kind", "subscribers"],
              [(r["interest"], r["kind"], r["subscribers"]) for r in rows])  # fmt: skip


def _of(email: str) -> list[dict[str, Any]]:
    with subscriber(email) as (_, found):
        items = [(i.value, i.created_at) for i in found.interests]
    return [
        dict(zip(("kind", "understood_as"), _understood(value), strict=True),
             interest=value, created_at=created)
        for value, created in items
    ]  # fmt: skip


def _popular(limit: int) -> list[dict[str, Any]]:
    with App().session() as session:
        found = session.execute(
            select(Interest.value, Interest.kind, func.count(func.distinct(Interest.subscriber_id)))
            .join(Subscriber)
            .where(Subscriber.status == SubscriberStatus.active)
            .group_by(Interest.value, Interest.kind)
            .order_by(func.count(func.distinct(Interest.subscriber_id)).desc(), Interest.value)
            .limit(limit)
        ).all()
    return [{"interest": v, "kind": k, "subscribers": n} for v, k, n in found]
