"""deliver_batch and the sweeper against a real database and a scripted mailer: claims, the
per-kind rules, every outcome of RELIABILITY.md 1.5, pausing and resuming, the daily cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.send.mailer import Outcome, SendResult
from service.store import ledger, sending
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    Event,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.track.events import suppress, unsubscribe
from tests.fakes import FakeClock, FakeMailer

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    return settings.model_copy(update={"skip_empty_digests": False, "policy_pause_after": 3})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def planned(factory: Factory, quiet: Settings) -> Iterator[list[int]]:
    with transaction(factory) as session:
        session.add_all(
            Subscriber(email=f"p{i}@example.org", status=SubscriberStatus.active, send_hour=8,
                       created_at=T0, updated_at=T0, confirmed_at=T0)
            for i in range(5)
        )  # fmt: skip
    yield pipeline.plan_editions(factory, quiet, T0).planned


def rows(factory: Factory) -> dict[int, Delivery]:
    with factory() as session:
        return {d.id: d for d in session.scalars(select(Delivery))}


def deliver(
    factory: Factory, settings: Settings, mailer: FakeMailer, ids: list[int], clock: FakeClock
) -> pipeline.DeliverReport:
    return pipeline.deliver_batch(factory, settings, mailer, ids, clock)


def fail_with(*results: SendResult) -> list[SendResult]:
    return list(results)


def test_sends_each_planned_digest_once(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    mailer = FakeMailer()
    report = deliver(factory, quiet, mailer, planned, clock)
    assert report.sent == 5 and len(mailer.sent) == 5
    again = deliver(factory, quiet, mailer, planned, clock)
    assert again.sent == 0 and again.not_claimed == 5 and len(mailer.sent) == 5
    for row in rows(factory).values():
        assert (row.status, row.attempts, row.last_smtp_code) == ("sent", 1, 250)
        assert row.sent_at == T0 and row.claimed_at == T0
    with factory() as session:
        assert set(session.scalars(select(Subscriber.last_digest_at))) == {T0}


def test_unsubscribe_or_suppression_before_the_claim_wins(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    with transaction(factory) as session:
        people = list(session.scalars(select(Subscriber).order_by(Subscriber.id)))
        unsubscribe(session, people[0], T0, "one-click")
        suppress(session, people[1].email, "complaint", T0)
    mailer = FakeMailer()
    report = deliver(factory, quiet, mailer, planned, clock)
    assert report.sent == 3 and report.skipped == 2
    reasons = sorted(str(r.failure_reason) for r in rows(factory).values() if r.status == "skipped")
    assert reasons == ["suppressed", "unsubscribed"]
    assert people[0].email not in {m.recipient for m in mailer.sent}


def test_transient_retries_later_with_the_same_message_id(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    mailer = FakeMailer(script={"p0@example.org": [SendResult(Outcome.transient, 451, "4.3.0")]})
    report = deliver(factory, quiet, mailer, planned[:1], clock)
    row = rows(factory)[planned[0]]
    assert report.retry == 1 and row.status == "planned" and row.attempts == 1
    assert T0 + dt.timedelta(seconds=30) <= row.next_attempt_at <= T0 + dt.timedelta(seconds=60)
    assert pipeline.sweep_due(factory, clock()) == planned[1:]  # not due yet
    clock.advance(minutes=2)
    assert deliver(factory, quiet, mailer, planned[:1], clock).sent == 1
    again = rows(factory)[planned[0]]
    assert again.attempts == 2 and again.message_id == row.message_id
    assert mailer.sent[0].data.count(f"<{row.message_id}>".encode()) == 1


def test_ambiguous_is_flagged_and_resent_with_the_same_id(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    mailer = FakeMailer(script={"p0@example.org": [SendResult(Outcome.ambiguous, None, "gone")]})
    deliver(factory, quiet, mailer, planned[:1], clock)
    clock.advance(minutes=5)
    deliver(factory, quiet, mailer, planned[:1], clock)
    row = rows(factory)[planned[0]]
    assert row.status == "sent" and row.ambiguous and row.attempts == 2
    ids = [m.data.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for m in mailer.sent]
    assert ids[0] == ids[1] == f"<{row.message_id}>".encode()


def test_hard_bounce_fails_suppresses_and_is_not_planned_again(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    mailer = FakeMailer(script={"p0@example.org": [SendResult(Outcome.bounced, 550, "5.1.1")]})
    deliver(factory, quiet, mailer, planned, clock)
    row = rows(factory)[planned[0]]
    assert (row.status, row.failure_reason, row.attempts) == ("failed", "bounced", 1)
    with factory() as session:
        assert session.scalar(select(Suppression.reason)) == "hard_bounce"
        status = session.scalar(
            select(Subscriber.status).where(Subscriber.email == "p0@example.org")
        )
        assert status == SubscriberStatus.suppressed
    tomorrow = pipeline.plan_editions(factory, quiet, T0 + dt.timedelta(days=1))
    assert len(tomorrow.planned) == 4


def test_policy_refusals_pause_after_the_budget_then_resume(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    policy = SendResult(Outcome.policy, 550, "5.7.1 blocked")
    mailer = FakeMailer(script={f"p{i}@example.org": [policy] for i in range(5)})
    quiet = quiet.model_copy(update={"admin_email": "ops@paperpost.example", "smtp_pool_size": 1})
    report = deliver(factory, quiet, mailer, planned, clock)
    assert report.retry == 3 and report.paused == 2 and report.sent == 0
    with factory() as session:
        assert sending.current_pause(session) is not None
        assert session.scalar(select(Suppression.id)) is None
        alert = session.scalar(select(Delivery).where(Delivery.kind == DeliveryKind.alert))
    assert alert is not None and alert.to_address == "ops@paperpost.example"
    assert {r.attempts for r in rows(factory).values() if r.kind == "digest"} == {0}
    assert pipeline.sweep_due(factory, clock()) == [alert.id]  # only the alert while paused
    with transaction(factory) as session:
        sending.resume(session, clock())
    clock.advance(minutes=1)  # the refused rows wait one backoff step
    resumed = deliver(factory, quiet, FakeMailer(), planned, clock)
    assert resumed.sent == 5


def test_auth_failure_pauses_at_once(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    auth = SendResult(Outcome.policy, 535, "5.7.8 bad credentials", stage="connect")
    mailer = FakeMailer(script={"p0@example.org": [auth]})
    report = deliver(factory, quiet.model_copy(update={"smtp_pool_size": 1}), mailer, planned,
                     clock)  # fmt: skip
    assert report.retry == 1 and report.paused == 4 and mailer.sent == []


def test_poison_row_fails_after_three_attempts(
    factory: Factory,
    quiet: Settings,
    planned: list[int],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.pipeline import prepare as deliver_module

    real = deliver_module.render_row

    def render(session: Session, settings: Settings, row: Any, *args: Any) -> Any:
        if row.delivery.id == planned[0]:
            raise RuntimeError("this row cannot be rendered")
        return real(session, settings, row, *args)

    monkeypatch.setattr(deliver_module, "render_row", render)
    mailer = FakeMailer()
    for _ in range(5):
        deliver(factory, quiet, mailer, planned, clock)
        clock.advance(hours=1)
    row = rows(factory)[planned[0]]
    assert (row.status, row.failure_reason, row.attempts) == ("failed", "poison", 3)
    assert len(mailer.sent) == 4


def test_gives_up_after_max_attempts_and_counts_a_soft_bounce(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    deferral = SendResult(Outcome.transient, 452, "4.2.2 full", stage="rcpt")
    mailer = FakeMailer(script={"p0@example.org": [deferral] * 3})
    settings = quiet.model_copy(update={"max_attempts": 3})
    for _ in range(3):
        deliver(factory, settings, mailer, planned[:1], clock)
        clock.advance(hours=1)
    row = rows(factory)[planned[0]]
    assert (row.status, row.failure_reason) == ("failed", "gave_up")
    with factory() as session:
        assert (
            session.scalar(
                select(Subscriber.soft_bounces).where(Subscriber.id == row.subscriber_id)
            )
            == 1
        )
        assert (
            session.scalar(select(Event.kind).where(Event.kind == "soft_bounce")) == "soft_bounce"
        )


def test_daily_cap_defers_the_rest_to_tomorrow(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    capped = quiet.model_copy(update={"daily_send_cap": 3, "smtp_pool_size": 2})
    report = deliver(factory, capped, FakeMailer(), planned, clock)
    assert report.sent == 3 and report.deferred == 2
    waiting = [r for r in rows(factory).values() if r.status == "planned"]
    assert len(waiting) == 2 and {r.attempts for r in waiting} == {0}
    assert {r.next_attempt_at for r in waiting} == {dt.datetime(2026, 9, 22, tzinfo=dt.UTC)}


def test_dry_run_sends_nothing_and_changes_nothing(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    mailer = FakeMailer()
    report = pipeline.deliver_batch(factory, quiet, mailer, planned, clock, dry_run=True)
    assert report.skipped == 5 and mailer.sent == []
    assert {(r.status, r.attempts) for r in rows(factory).values()} == {("planned", 0)}


def test_claim_is_exclusive_until_the_lease_expires(
    factory: Factory, quiet: Settings, planned: list[int]
) -> None:
    lease = dt.timedelta(seconds=60)
    with transaction(factory) as session:
        assert ledger.claim_many(session, planned, T0, lease) == planned
    with transaction(factory) as session:
        assert ledger.claim_many(session, planned, T0 + dt.timedelta(seconds=30), lease) == []
    assert pipeline.sweep_due(factory, T0 + dt.timedelta(seconds=30)) == []
    later = T0 + dt.timedelta(seconds=61)
    assert pipeline.sweep_due(factory, later) == planned  # expired leases go back
    with transaction(factory) as session:
        assert ledger.claim(session, planned[0], later, lease)
    assert rows(factory)[planned[0]].attempts == 2


def test_sweeper_leaves_recently_enqueued_rows_to_their_task(
    factory: Factory, planned: list[int]
) -> None:
    window = dt.timedelta(minutes=30)
    assert pipeline.sweep_due(factory, T0, stale_after=window) == []  # the planner enqueued them
    assert pipeline.sweep_due(factory, T0 + dt.timedelta(minutes=31), stale_after=window) == planned
    assert pipeline.sweep_due(factory, T0) == planned  # an empty queue: everything due goes again


def test_deadline_hands_the_rest_back_to_the_sweeper(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    hurried = quiet.model_copy(update={"batch_deadline_seconds": -1})
    report = deliver(factory, hurried, FakeMailer(), planned, clock)
    assert report.deferred == 5 and report.sent == 0
    assert pipeline.sweep_due(factory, T0, stale_after=dt.timedelta(hours=1)) == planned


@pytest.mark.parametrize(
    ("kind", "status", "sent"),
    [
        (DeliveryKind.confirm, SubscriberStatus.pending, True),
        (DeliveryKind.confirm, SubscriberStatus.active, False),
        (DeliveryKind.welcome, SubscriberStatus.active, True),
        (DeliveryKind.welcome, SubscriberStatus.pending, False),
        (DeliveryKind.goodbye, SubscriberStatus.unsubscribed, True),
        (DeliveryKind.goodbye, SubscriberStatus.suppressed, False),
        (DeliveryKind.digest, SubscriberStatus.unsubscribed, False),
    ],
)
def test_claim_rules_per_kind(
    factory: Factory, quiet: Settings, clock: FakeClock, kind: str, status: str, sent: bool
) -> None:
    with transaction(factory) as session:
        person = Subscriber(email="k@example.org", status=status, created_at=T0, updated_at=T0)
        session.add(person)
        session.flush()
        payload = {"subject": "s", "heading": "h", "paragraphs": ["p"], "action_label": "a",
                   "action_url": "https://paperpost.example/a", "preheader": ""}  # fmt: skip
        delivery_id = ledger.insert_delivery(
            session, kind=DeliveryKind(kind), domain="paperpost.example", now=T0,
            subscriber_id=person.id, edition_key="k1", payload=payload,
        )  # fmt: skip
    assert delivery_id is not None
    mailer = FakeMailer()
    report = deliver(factory, quiet, mailer, [delivery_id], clock)
    assert (report.sent == 1) is sent and (len(mailer.sent) == 1) is sent


def test_alert_without_subscriber_is_delivered(
    factory: Factory, quiet: Settings, clock: FakeClock
) -> None:
    from service.track.alerts import raise_alert

    settings = quiet.model_copy(update={"admin_email": "ops@paperpost.example"})
    with transaction(factory) as session:
        alert_id = raise_alert(session, settings, T0, "test", "Something happened", ["Details."])
    assert alert_id is not None
    mailer = FakeMailer()
    assert deliver(factory, settings, mailer, [alert_id], clock).sent == 1
    assert mailer.sent[0].recipient == "ops@paperpost.example"


def test_verp_return_path_when_a_bounce_domain_is_set(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    from service.track.bounces import delivery_from_verp

    settings = quiet.model_copy(update={"bounce_domain": "bounces.paperpost.example"})
    mailer = FakeMailer()
    deliver(factory, settings, mailer, planned[:1], clock)
    sender = mailer.sent[0].sender
    assert sender.startswith("bounces+d") and sender.endswith("@bounces.paperpost.example")
    assert delivery_from_verp(settings, sender) == planned[0]
    assert delivery_from_verp(settings, sender.replace("-", "-0", 1)) is None


def test_a_subscriber_erased_before_the_claim_gets_nothing(
    factory: Factory, quiet: Settings, planned: list[int], clock: FakeClock
) -> None:
    with transaction(factory) as session:
        session.execute(
            update(Delivery).where(Delivery.id == planned[0]).values(subscriber_id=None)
        )
    mailer = FakeMailer()
    deliver(factory, quiet, mailer, planned[:1], clock)
    assert mailer.sent == [] and rows(factory)[planned[0]].status == "skipped"
