"""The subscription flows as functions: what each request changes, which mails it queues."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.store.models import (
    Delivery,
    DeliveryKind,
    Event,
    InterestKind,
    Subscriber,
    SubscriberStatus,
)
from service.track.events import SubscriberInput, add_subscriber, suppress
from service.track.ratelimit import DatabaseLimiter
from service.track.subscription import (
    ConfirmOutcome,
    SubscribeOutcome,
    SubscriptionRequest,
    UnsubscribeOutcome,
    check_confirm,
    check_unsubscribe,
    confirm,
    domain_refusal,
    process_mailto_unsubscribe,
    request_subscription,
    resubscribe,
    unsubscribe,
)
from service.track.tokens import Purpose, make_token

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def mails(session: Session, kind: DeliveryKind | None = None) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.id)
    if kind:
        query = query.where(Delivery.kind == kind)
    return list(session.scalars(query))


def ask(session: Session, settings: Settings, email: str, *interests: str, **kw: object):
    request = SubscriptionRequest(email=email, interests=interests, **kw)  # type: ignore[arg-type]
    return request_subscription(session, settings, DatabaseLimiter(), request, "192.0.2.1", NOW)


def confirm_token(delivery: Delivery) -> str:
    return str(delivery.payload["action_url"]).rsplit("/", 1)[1]


def existing(session: Session, email: str, status: SubscriberStatus, *interests: str) -> Subscriber:
    subscriber = add_subscriber(session, SubscriberInput(email, interests), NOW, "cli", True)
    subscriber.status = status
    session.flush()
    return subscriber


def test_new_address_is_pending_with_one_confirm_mail(session: Session, settings: Settings) -> None:
    outcome = ask(
        session, settings, "ada@example.org", "diffusion", "cat:cs.CV", timezone="Europe/Berlin"
    )
    assert outcome is SubscribeOutcome.confirm_queued
    subscriber = session.scalar(select(Subscriber))
    assert subscriber is not None and subscriber.status == SubscriberStatus.pending
    assert [i.value for i in subscriber.interests] == ["diffusion", "cat:cs.CV"]
    assert [i.kind for i in subscriber.interests] == [InterestKind.keyword, InterestKind.category]
    [mail] = mails(session)
    assert mail.kind == DeliveryKind.confirm and mail.subscriber_id == subscriber.id
    assert mail.payload["action_url"].startswith("https://paperpost.example/confirm/")
    assert "ada@example.org" not in mail.payload["action_url"]
    assert {"subject", "preheader", "heading", "paragraphs", "action_label"} <= set(mail.payload)


def test_active_address_gets_a_notice_and_keeps_its_interests(
    session: Session, settings: Settings
) -> None:
    subscriber = existing(session, "ada@example.org", SubscriberStatus.active, "mamba")
    outcome = ask(session, settings, "ada@example.org", "something else", timezone="Asia/Tokyo")
    assert outcome is SubscribeOutcome.notice_queued
    assert [i.value for i in subscriber.interests] == ["mamba"]
    assert subscriber.timezone == "UTC"
    [mail] = mails(session)
    assert mail.kind == DeliveryKind.notice
    assert "/preferences/" in mail.payload["action_url"]


@pytest.mark.parametrize("how", ["status", "suppression", "erased"])
def test_suppressed_address_gets_nothing(session: Session, settings: Settings, how: str) -> None:
    if how == "status":
        existing(session, "ada@example.org", SubscriberStatus.suppressed)
    else:
        suppress(
            session, "ada@example.org", "hard_bounce" if how == "suppression" else "erased", NOW
        )
    assert ask(session, settings, "ada@example.org", "x") is SubscribeOutcome.suppressed
    assert mails(session) == []


def test_unsubscribed_address_changes_only_when_the_owner_confirms(
    session: Session, settings: Settings
) -> None:
    subscriber = existing(session, "ada@example.org", SubscriberStatus.unsubscribed, "old")
    ask(session, settings, "ada@example.org", "new interest", send_hour=6)
    assert subscriber.status == SubscriberStatus.unsubscribed
    assert [i.value for i in subscriber.interests] == ["old"] and subscriber.send_hour == 8
    token = confirm_token(mails(session, DeliveryKind.confirm)[0])
    assert confirm(session, settings, token, "192.0.2.9", NOW) is ConfirmOutcome.confirmed
    assert subscriber.status == SubscriberStatus.active
    assert [i.value for i in subscriber.interests] == ["new interest"] and subscriber.send_hour == 6


def test_confirm_is_single_use_and_sends_one_welcome(session: Session, settings: Settings) -> None:
    ask(session, settings, "ada@example.org", "diffusion")
    token = confirm_token(mails(session, DeliveryKind.confirm)[0])
    assert check_confirm(session, settings, token) is ConfirmOutcome.ready
    assert confirm(session, settings, token, None, NOW) is ConfirmOutcome.confirmed
    assert confirm(session, settings, token, None, NOW) is ConfirmOutcome.confirmed  # same page
    assert len(mails(session, DeliveryKind.welcome)) == 1
    confirms = session.scalar(select(func.count()).where(Event.kind == "confirm"))
    assert confirms == 1
    subscriber = session.scalar(select(Subscriber))
    assert subscriber is not None
    unsubscribe(session, settings, _unsub(settings, subscriber), "one-click", None, NOW)
    assert confirm(session, settings, token, None, NOW) is ConfirmOutcome.used
    assert subscriber.status == SubscriberStatus.unsubscribed


def test_each_confirm_link_applies_its_own_request(session: Session, settings: Settings) -> None:
    ask(session, settings, "ada@example.org", "first")
    ask(session, settings, "ada@example.org", "second")
    first, _second = (confirm_token(d) for d in mails(session, DeliveryKind.confirm))
    assert confirm(session, settings, first, None, NOW) is ConfirmOutcome.confirmed
    subscriber = session.scalar(select(Subscriber))
    assert subscriber is not None and [i.value for i in subscriber.interests] == ["first"]


def test_confirm_refuses_a_suppressed_address(session: Session, settings: Settings) -> None:
    ask(session, settings, "ada@example.org", "diffusion")
    token = confirm_token(mails(session, DeliveryKind.confirm)[0])
    suppress(session, "ada@example.org", "complaint", NOW)
    assert confirm(session, settings, token, None, NOW) is ConfirmOutcome.refused
    assert session.scalar(select(Subscriber.status)) == SubscriberStatus.pending


def test_confirm_without_its_request_is_invalid(session: Session, settings: Settings) -> None:
    subscriber = existing(session, "ada@example.org", SubscriberStatus.pending)
    keys = settings.secret_keys()
    no_nonce = make_token(keys, Purpose.confirm, subscriber.id, subscriber.token_secret)
    unknown = make_token(keys, Purpose.confirm, subscriber.id, subscriber.token_secret, "f" * 32)
    for token in (no_nonce, unknown):
        assert confirm(session, settings, token, None, NOW) is ConfirmOutcome.invalid


def test_per_address_limit_is_three_mails_a_day(session: Session, settings: Settings) -> None:
    outcomes = [ask(session, settings, "ada@example.org", "x") for _ in range(5)]
    assert outcomes.count(SubscribeOutcome.confirm_queued) == 3
    assert outcomes[3:] == [SubscribeOutcome.limited] * 2
    assert len(mails(session)) == 3


def _unsub(settings: Settings, subscriber: Subscriber) -> str:
    return make_token(
        settings.secret_keys(), Purpose.unsubscribe, subscriber.id, subscriber.token_secret
    )


def test_unsubscribe_is_idempotent_and_says_goodbye_only_for_the_page(
    session: Session, settings: Settings
) -> None:
    ada = existing(session, "ada@example.org", SubscriberStatus.active)
    bob = existing(session, "bob@example.org", SubscriberStatus.active)
    assert (
        check_unsubscribe(session, settings, _unsub(settings, ada)) is UnsubscribeOutcome.subscribed
    )
    assert unsubscribe(session, settings, _unsub(settings, ada), "one-click", None, NOW) is (
        UnsubscribeOutcome.unsubscribed
    )
    assert unsubscribe(session, settings, _unsub(settings, ada), "one-click", None, NOW) is (
        UnsubscribeOutcome.already
    )
    unsubscribe(session, settings, _unsub(settings, bob), "web", None, NOW)
    goodbyes = mails(session, DeliveryKind.goodbye)
    assert [g.subscriber_id for g in goodbyes] == [bob.id]
    events = session.scalars(select(Event.source).where(Event.kind == "unsubscribe")).all()
    assert sorted(events) == ["one-click", "web"]


def test_unsubscribe_keeps_a_suppression(session: Session, settings: Settings) -> None:
    ada = existing(session, "ada@example.org", SubscriberStatus.suppressed)
    assert unsubscribe(session, settings, _unsub(settings, ada), "one-click", None, NOW) is (
        UnsubscribeOutcome.already
    )
    assert ada.status == SubscriberStatus.suppressed


def test_resubscribe(session: Session, settings: Settings) -> None:
    ada = existing(session, "ada@example.org", SubscriberStatus.unsubscribed, "mamba")
    assert resubscribe(session, settings, _unsub(settings, ada), None, NOW) is (
        UnsubscribeOutcome.resubscribed
    )
    assert ada.status == SubscriberStatus.active and [i.value for i in ada.interests] == ["mamba"]
    never = existing(session, "bob@example.org", SubscriberStatus.unsubscribed)
    never.confirmed_at = None
    assert resubscribe(session, settings, _unsub(settings, never), None, NOW) is (
        UnsubscribeOutcome.needs_confirm
    )
    bounced = existing(session, "eve@example.org", SubscriberStatus.unsubscribed)
    suppress(session, "eve@example.org", "hard_bounce", NOW)
    assert resubscribe(session, settings, _unsub(settings, bounced), None, NOW) is (
        UnsubscribeOutcome.refused
    )


def mailto(subject: str, body: str = "", message_id: str = "<m1@mail.example>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "ada@example.org"
    message["To"] = "unsubscribe@paperpost.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body or "sent from my phone")
    return message


def test_mailto_unsubscribe(session: Session, settings: Settings) -> None:
    ada = existing(session, "ada@example.org", SubscriberStatus.active)
    token = _unsub(settings, ada)
    outcome = process_mailto_unsubscribe(session, settings, mailto(f"unsubscribe {token}"), NOW)
    assert outcome is UnsubscribeOutcome.unsubscribed
    assert ada.status == SubscriberStatus.unsubscribed
    event = session.scalar(select(Event).where(Event.kind == "unsubscribe"))
    assert event is not None and event.source == "mailto"
    assert event.external_id == "mailto:<m1@mail.example>"
    again = process_mailto_unsubscribe(session, settings, mailto(f"unsubscribe {token}"), NOW)
    assert again is UnsubscribeOutcome.already


def test_mailto_token_in_the_body(session: Session, settings: Settings) -> None:
    ada = existing(session, "ada@example.org", SubscriberStatus.active)
    message = mailto("Re: your digest", f"please\nunsubscribe {_unsub(settings, ada)}\nthanks")
    assert process_mailto_unsubscribe(session, settings, message, NOW) is (
        UnsubscribeOutcome.unsubscribed
    )


@pytest.mark.parametrize("subject", ["unsubscribe", "unsubscribe not-a-real-token-at-all", "hello"])
def test_mailto_without_a_valid_token_changes_nothing(
    session: Session, settings: Settings, subject: str
) -> None:
    ada = existing(session, "ada@example.org", SubscriberStatus.active)
    assert process_mailto_unsubscribe(session, settings, mailto(subject), NOW) is (
        UnsubscribeOutcome.invalid
    )
    assert ada.status == SubscriberStatus.active


@pytest.mark.parametrize(
    ("allowed", "denied", "email", "refused"),
    [
        ([], [], "ada@example.org", False),
        (["example.org"], [], "ada@example.org", False),
        (["example.org"], [], "ada@cs.example.org", False),
        (["example.org"], [], "ada@other.org", True),
        (["example.org"], [], "ada@badexample.org", True),
        ([], ["mailinator.com"], "x@mailinator.com", True),
        ([], ["mailinator.com"], "x@example.org", False),
    ],
)
def test_domain_policy(
    settings: Settings, allowed: list[str], denied: list[str], email: str, refused: bool
) -> None:
    policy = settings.model_copy(update={"allowed_domains": allowed, "denied_domains": denied})
    assert (domain_refusal(policy, email) is not None) is refused


def test_mailto_link_of_a_real_message(session: Session, settings: Settings) -> None:
    """The subject the List-Unsubscribe mailto of our own messages carries is understood."""
    from urllib.parse import parse_qs, urlsplit

    from service.content import subscriber_links

    ada = existing(session, "ada@example.org", SubscriberStatus.active)
    link = urlsplit(subscriber_links(settings, ada).unsubscribe_mailto)
    subject = parse_qs(link.query)["subject"][0]
    assert process_mailto_unsubscribe(session, settings, mailto(subject), NOW) is (
        UnsubscribeOutcome.unsubscribed
    )
