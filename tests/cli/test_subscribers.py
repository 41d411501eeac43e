"""``paperpost subscribers``: every command, its JSON, its errors and its exit codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.store.db import make_engine, make_sessionmaker
from service.store.models import Delivery, DeliveryKind, Event, Subscriber, Suppression
from service.track.addresses import email_hash
from tests.cli.conftest import Cli


def db(cli: Cli) -> sessionmaker[Session]:
    import os

    return make_sessionmaker(make_engine(os.environ["PAPERPOST_DATABASE_URL"]))


def outbox(cli: Cli) -> list[tuple[str | None, str]]:
    with db(cli)() as session:
        rows = session.execute(select(Delivery.kind, Subscriber.email).join(Subscriber))
        return sorted((kind, email) for kind, email in rows)


def test_add_pending_queues_a_confirmation_and_confirmed_a_welcome(cli: Cli) -> None:
    code, out, _ = cli(
        "subscribers",
        "add",
        "Ada@Example.org",
        "-i",
        "diffusion",
        "-i",
        '"vision transformer"',
        "--timezone",
        "Europe/Berlin",
        "--hour",
        "7",
    )
    assert code == 0 and "added ada@example.org (pending) (confirmation mail queued)" in out
    added = cli.json("subscribers", "add", "grace@example.org", "--confirmed", "--frequency",
                     "weekly", "--weekday", "4")  # fmt: skip
    assert (added["status"], added["frequency"], added["weekday"]) == ("active", "weekly", 4)
    assert cli("subscribers", "add", "alan@example.org", "--no-mail")[0] == 0
    assert outbox(cli) == [("confirm", "ada@example.org"), ("welcome", "grace@example.org")]
    listed = cli.json("subscribers", "list")
    assert [
        (s["email"], s["status"], s["interests"], s["timezone"], s["hour"]) for s in listed
    ] == [
        ("ada@example.org", "pending", ["diffusion", '"vision transformer"'], "Europe/Berlin", 7),
        ("grace@example.org", "active", [], "UTC", 8),
        ("alan@example.org", "pending", [], "UTC", 8),
    ]
    assert [s["email"] for s in cli.json("subscribers", "list", "--status", "active")] == [
        "grace@example.org"
    ]
    assert [s["email"] for s in cli.json("subscribers", "list", "--search", "ALAN")] == [
        "alan@example.org"
    ]


def test_add_refuses_bad_input_with_what_to_do(cli: Cli) -> None:
    code, _, err = cli("subscribers", "add", "not-an-address")
    assert code == 1 and "not a valid email address" in err
    code, _, err = cli("subscribers", "add", "ada@example.org", "--timezone", "Mars/Base")
    assert code == 1 and "unknown time zone 'Mars/Base'" in err and "Europe/Berlin" in err
    code, _, err = cli("subscribers", "add", "ada@example.org", "-i", '"unclosed phrase')
    assert code == 1 and "interest '\"unclosed phrase'" in err
    assert cli("subscribers", "add", "ada@example.org", "--hour", "24")[0] == 2
    assert cli("subscribers", "add")[0] == 2
    assert cli("subscribers", "add", "ada@example.org")[0] == 0
    code, _, err = cli("subscribers", "add", "ADA@example.org")
    assert code == 1 and "already a subscriber" in err
    assert cli.json("subscribers", "list") == cli.json("subscribers", "list")  # nothing half-done
    assert len(cli.json("subscribers", "list")) == 1


def test_show_edit_confirm_remove(cli: Cli) -> None:
    cli("subscribers", "add", "ada@example.org", "-i", "diffusion")
    edited = cli.json("subscribers", "edit", "ada@example.org", "--hour", "6", "--frequency",
                      "weekly", "--no-trending", "-i", "mamba", "-i", "cat:cs.CV")  # fmt: skip
    assert edited["changed"] == ["send_hour", "frequency", "include_trending", "interests"]
    assert (edited["hour"], edited["interests"]) == (6, ["mamba", "cat:cs.CV"])
    same = cli.json("subscribers", "edit", "ada@example.org", "--hour", "6")
    assert same["changed"] == []
    code, _, err = cli("subscribers", "edit", "ada@example.org", "--format", "pdf")
    assert code == 1 and "format 'pdf' is not html or text" in err and "nothing was changed" in err

    code, out, _ = cli("subscribers", "confirm", "ada@example.org")
    assert code == 0 and "active (welcome mail queued)" in out
    code, _, err = cli("subscribers", "confirm", "ada@example.org")
    assert code == 1 and "is active, not pending" in err

    shown = cli.json("subscribers", "show", "ada@example.org")
    assert shown["status"] == "active" and shown["suppression"] is None
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds == ["confirm", "preferences", "subscribe"]
    assert {(d["kind"], d["status"]) for d in shown["deliveries"]} == {
        ("confirm", "planned"),
        ("welcome", "planned"),
    }
    code, out, _ = cli("subscribers", "show", "ada@example.org")
    assert code == 0 and "recent events" in out and "preferences" in out

    assert cli("subscribers", "remove", "ada@example.org")[1].strip().endswith("unsubscribed")
    assert "was already unsubscribed" in cli("subscribers", "remove", "ada@example.org")[1]
    code, _, err = cli("subscribers", "show", "nobody@example.org")
    assert code == 1 and "no subscriber" in err and "paperpost subscribers list" in err


def test_erase_keeps_only_a_hash(cli: Cli) -> None:
    cli("subscribers", "add", "ada@example.org", "--confirmed", "-i", "gan")
    code, _, err = cli("subscribers", "erase", "ada@example.org")
    assert code == 1 and "--yes" in err  # not a terminal: no silent deletion
    code, out, _ = cli("subscribers", "erase", "ada@example.org", "--yes")
    assert code == 0 and "erased" in out
    with db(cli)() as session:
        assert session.scalars(select(Subscriber)).all() == []
        kept = session.scalars(select(Suppression)).one()
        assert (kept.email, kept.email_hash) == (None, email_hash("ada@example.org"))
        erase = session.scalars(select(Event).where(Event.kind == "erase")).one()
        assert "ada" not in str(erase.detail) and erase.consent
        assert (
            session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.welcome)).all()
            == []
        )
    assert cli("subscribers", "erase", "ada@example.org", "--yes")[0] == 1


def test_a_suppressed_address_is_not_added_again(cli: Cli) -> None:
    assert cli("suppressions", "add", "gone@example.org")[0] == 0
    code, _, err = cli("subscribers", "add", "Gone@example.org", "--confirmed")
    assert code == 1 and "is suppressed: `paperpost suppressions remove` it first" in err
    assert cli.json("subscribers", "list") == []
