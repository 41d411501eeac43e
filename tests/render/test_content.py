"""From outbox rows to checked bytes: digests from the papers fixed on the row, notices from
their payload, mails without a subscriber, signing, and previews that write nothing."""

from __future__ import annotations

import datetime as dt
import email
import re
import time
from email import policy

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.content import compose_for, render_delivery
from service.ingest.files import read
from service.preview import preview_digest, queue_test_send
from service.send.compose import HeaderValueError
from service.store import ledger
from service.store.models import (
    Delivery,
    DeliveryKind,
    Match,
    Paper,
    SentPaper,
    Subscriber,
)
from service.store.papers import upsert_papers
from service.track.events import SubscriberInput, add_subscriber
from tests.render.samples import NOW, SHARED, check_message

LIST_HEADERS = {"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"}
PAYLOAD = {
    "subject": "Confirm your paperpost subscription",
    "preheader": "One click and you are in",
    "heading": "Please confirm",
    "paragraphs": ["Someone asked for digests at this address.", "<b>Not</b> you? Ignore it."],
    "action_label": "Confirm subscription",
    "action_url": "https://paperpost.example/confirm/abc",
}


@pytest.fixture
def world(session: Session) -> tuple[Subscriber, list[int]]:
    upsert_papers(session, read(SHARED / "hf_daily_papers_2025-09-12.json").papers, NOW)
    subscriber = add_subscriber(
        session, SubscriberInput("ada@example.org", ["video", "diffusion"]), NOW, "test", True
    )
    ids = list(session.scalars(select(Paper.id).order_by(Paper.upvotes.desc())))
    for pid in ids[:4]:
        session.add(Match(subscriber_id=subscriber.id, paper_id=pid, score=2.0,
                          reasons=["“video” in title"], created_at=NOW))  # fmt: skip
    session.flush()
    return subscriber, ids


def digest_row(
    session: Session, settings: Settings, subscriber: Subscriber, ids: list[int]
) -> Delivery:
    delivery_id = ledger.insert_delivery(
        session, kind=DeliveryKind.digest, domain=settings.mail_domain, now=NOW,
        subscriber_id=subscriber.id, edition_key="2026-11-27",
    )  # fmt: skip
    row = session.get(Delivery, delivery_id)
    assert row is not None
    row.paper_ids, row.trending_ids = ids[:4], ids[4:7]
    session.flush()
    return row


def titles(session: Session, ids: list[int]) -> list[str]:
    by_id = dict(
        session.execute(select(Paper.id, Paper.title).where(Paper.id.in_(ids))).tuples().all()
    )
    return [" ".join(by_id[i].split())[:50] for i in ids]


def test_digest_is_rendered_from_the_papers_fixed_on_the_row(
    session: Session, settings: Settings, world: tuple[Subscriber, list[int]]
) -> None:
    subscriber, ids = world
    row = digest_row(session, settings, subscriber, ids)
    rendered = render_delivery(session, settings, row, subscriber, NOW)
    composed = compose_for(settings, rendered, subscriber, row.message_id, NOW, "digest",
                           full_check=True)  # fmt: skip
    msg = check_message(composed.data, rendered, titles(session, ids[:7]))
    assert msg["Message-ID"] == f"<{row.message_id}>" and composed.recipient == "ada@example.org"
    assert rendered.subject.startswith("4 new papers on video")
    assert "Why you got this: “video” in title" in rendered.text
    assert (
        "You get this daily digest from paperpost because you follow video and diffusion."
        in " ".join(rendered.text.split())
    )
    https, mailto = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert https.startswith("https://paperpost.example/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe@paperpost.example?subject=unsubscribe%20")


def test_a_retry_keeps_the_message_id_and_content(
    session: Session,
    settings: Settings,
    world: tuple[Subscriber, list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriber, ids = world
    row = digest_row(session, settings, subscriber, ids)
    first = compose_for(settings, render_delivery(session, settings, row, subscriber, NOW),
                        subscriber, row.message_id, NOW, "digest")  # fmt: skip
    later = NOW + dt.timedelta(minutes=7)
    # The retry happens minutes later on the wall clock too, which signs timed links.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _: int(time.time()) + 420)
    second = compose_for(settings, render_delivery(session, settings, row, subscriber, later),
                         subscriber, row.message_id, later, "digest")  # fmt: skip
    a = email.message_from_bytes(first.data, policy=policy.default)
    b = email.message_from_bytes(second.data, policy=policy.default)
    assert a["Message-ID"] == b["Message-ID"] and a["Date"] != b["Date"]
    assert first.text == second.text


@pytest.mark.parametrize("kind", ["confirm", "welcome", "goodbye", "notice"])
def test_notices_come_from_their_payload(
    session: Session, settings: Settings, world: tuple[Subscriber, list[int]], kind: str
) -> None:
    subscriber, _ = world
    delivery_id = ledger.insert_delivery(
        session, kind=DeliveryKind(kind), domain=settings.mail_domain, now=NOW,
        subscriber_id=subscriber.id, edition_key=f"{kind}:1", payload=PAYLOAD,
    )  # fmt: skip
    row = session.get(Delivery, delivery_id)
    assert row is not None
    rendered = render_delivery(session, settings, row, subscriber, NOW)
    composed = compose_for(settings, rendered, subscriber, row.message_id, NOW, kind,
                           full_check=True)  # fmt: skip
    msg = check_message(composed.data, rendered, [])
    assert str(msg["Subject"]) == PAYLOAD["subject"]
    assert "&lt;b&gt;Not&lt;/b&gt; you? Ignore it." in rendered.html
    assert 'href="https://paperpost.example/confirm/abc"' in rendered.html
    assert "Confirm subscription: https://paperpost.example/confirm/abc" in rendered.text
    listed = kind == "welcome"
    assert (set(msg.keys()) >= LIST_HEADERS) is listed
    assert not listed or set(msg.keys()) & LIST_HEADERS == LIST_HEADERS


def test_mails_without_a_subscriber_are_transactional(session: Session, settings: Settings) -> None:
    alert_id = ledger.insert_delivery(
        session, kind=DeliveryKind.alert, domain=settings.mail_domain, now=NOW,
        to_address="ops@example.org", edition_key="relay:2026-11-27",
        payload={"subject": "[paperpost] relay refuses mail", "paragraphs": ["550 5.7.1 ..."]},
    )  # fmt: skip
    test_id = ledger.insert_delivery(
        session, kind=DeliveryKind.test, domain=settings.mail_domain, now=NOW,
        to_address="someone@example.net", edition_key="t:1", payload={"subject": ""},
    )  # fmt: skip
    for delivery_id, subject in ((alert_id, "[paperpost] relay refuses mail"),
                                 (test_id, "Test message from paperpost")):  # fmt: skip
        row = session.get(Delivery, delivery_id)
        assert row is not None
        rendered = render_delivery(session, settings, row, None, NOW)
        composed = compose_for(settings, rendered, None, row.message_id, NOW, row.kind,
                               row.to_address, full_check=True)  # fmt: skip
        msg = check_message(composed.data, rendered, [])
        assert str(msg["Subject"]) == subject and composed.recipient == row.to_address
        assert not LIST_HEADERS & set(msg.keys())
        assert "unsubscribe" not in rendered.text.lower()


def test_an_unsafe_action_link_is_dropped(
    session: Session, settings: Settings, world: tuple[Subscriber, list[int]]
) -> None:
    subscriber, _ = world
    delivery_id = ledger.insert_delivery(
        session, kind=DeliveryKind.notice, domain=settings.mail_domain, now=NOW,
        subscriber_id=subscriber.id, edition_key="n:1",
        payload={**PAYLOAD, "action_url": "https://evil.example/phish"},
    )  # fmt: skip
    row = session.get(Delivery, delivery_id)
    assert row is not None
    rendered = render_delivery(session, settings, row, subscriber, NOW)
    assert "evil.example" not in rendered.html and "evil.example" not in rendered.text


def test_a_non_ascii_local_part_is_refused_not_mangled(
    session: Session, settings: Settings, world: tuple[Subscriber, list[int]]
) -> None:
    subscriber, ids = world
    row = digest_row(session, settings, subscriber, ids)
    rendered = render_delivery(session, settings, row, subscriber, NOW)
    with pytest.raises(HeaderValueError):
        compose_for(
            settings, rendered, subscriber, row.message_id, NOW, "digest", "jörg@example.org"
        )
    idn = compose_for(settings, rendered, subscriber, row.message_id, NOW, "digest",
                      "ada@bücher.example")  # fmt: skip
    assert (
        idn.recipient == "ada@xn--bcher-kva.example"
        and b"To: ada@xn--bcher-kva.example" in idn.data
    )


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Delivery)) or 0,
        session.scalar(select(func.count()).select_from(SentPaper)) or 0,
        session.scalar(select(func.count()).where(Match.delivery_id.is_not(None))) or 0,
    )


def test_preview_writes_nothing_and_shows_a_planned_edition(
    session: Session, settings: Settings, world: tuple[Subscriber, list[int]]
) -> None:
    subscriber, ids = world
    before = counts(session)
    composed = preview_digest(session, settings, "Ada@Example.org", NOW)
    assert counts(session) == before
    check_message(composed.data, _rendered(composed), titles(session, ids[:4]))
    row = digest_row(session, settings, subscriber, ids[3:])  # a planned edition, other papers
    fixed = preview_digest(session, settings, "ada@example.org", NOW, dt.date(2026, 11, 27))
    assert f"<{row.message_id}>".encode() in fixed.data
    assert titles(session, [ids[3]])[0][:30] in " ".join(fixed.text.split())


def test_a_test_send_reserves_nothing(
    session: Session, settings: Settings, world: tuple[Subscriber, list[int]]
) -> None:
    subscriber, ids = world
    before = counts(session)
    delivery_id = queue_test_send(session, settings, "ada@example.org", NOW, "Bob@Example.net")
    row = session.get(Delivery, delivery_id)
    assert row is not None and row.kind == DeliveryKind.test
    assert row.to_address == "bob@example.net" and row.paper_ids == ids[:4]
    assert counts(session)[1:] == before[1:]
    rendered = render_delivery(session, settings, row, subscriber, NOW)
    composed = compose_for(settings, rendered, subscriber, row.message_id, NOW, "test",
                           row.to_address, full_check=True)  # fmt: skip
    check_message(composed.data, rendered, titles(session, ids[:4]))


def _rendered(composed: object) -> object:
    from service.render.views import RenderedEmail

    assert hasattr(composed, "subject")
    msg = email.message_from_bytes(composed.data, policy=policy.default)  # type: ignore[attr-defined]
    links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    return RenderedEmail(composed.subject, composed.text, composed.html, links[0], links[1])  # type: ignore[attr-defined]
