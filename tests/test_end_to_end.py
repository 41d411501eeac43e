"""File source -> SQLite -> match -> plan -> deliver -> aiosmtpd on 127.0.0.1, then every
received message is parsed and checked: headers, both parts, links, papers."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.send.mailer import SmtpMailer
from service.store.db import transaction
from service.store.models import Delivery, Paper, SentPaper
from service.track.events import SubscriberInput, add_subscriber
from tests.conftest import DEMO_DATA, SAMPLES
from tests.fakes import FakeClock
from tests.servers import SinkHandler

PEOPLE = [
    SubscriberInput("ada@example.org", ["diffusion"], send_hour=0),
    SubscriberInput("grace@example.org", ['"click-through rate"'], "Europe/Berlin", send_hour=0),
    SubscriberInput("alan@example.org", [], "Pacific/Auckland", send_hour=0),
]


def setup_world(factory: sessionmaker[Session], clock: FakeClock) -> None:
    for path in (SAMPLES / "hf_daily_papers_2025-09-12.json", DEMO_DATA / "seed_papers.json"):
        pipeline.ingest_file(factory, path, clock())
    with transaction(factory) as session:
        for person in PEOPLE:
            add_subscriber(session, person, clock(), "test", confirmed=True)


def run_once(
    factory: sessionmaker[Session], settings: Settings, clock: FakeClock
) -> pipeline.DeliverReport:
    pipeline.match_new_papers(factory, clock())
    planned = pipeline.plan_editions(factory, settings, clock()).planned
    return pipeline.deliver_batch(factory, settings, SmtpMailer(settings), planned, clock)


def test_pipeline_delivers_one_checked_digest_each(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    sink: tuple[SinkHandler, int],
) -> None:
    handler, port = sink
    settings = settings.model_copy(update={"smtp_port": port})
    setup_world(factory, clock)
    report = run_once(factory, settings, clock)
    assert report.sent == 3 and len(handler.messages) == 3

    with factory() as session:
        titles = dict(session.execute(select(Paper.id, Paper.title)).tuples().all())
        deliveries = {d.message_id: d for d in session.scalars(select(Delivery))}
    for received in handler.messages:
        msg = received.message
        delivery = deliveries[msg["Message-ID"].strip("<>")]
        assert received.rcpt_tos == [msg["To"]]
        for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
            assert len(msg.get_all(name)) == 1, name
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert https.startswith("https://paperpost.example/unsubscribe/") and mailto.startswith(
            "mailto:"
        )
        assert msg.get_content_type() == "multipart/alternative"
        text_part, html_part = msg.iter_parts()
        assert (text_part.get_content_type(), html_part.get_content_type()) == (
            "text/plain",
            "text/html",
        )
        text, html = text_part.get_content(), html_part.get_content()
        assert https in text and f'href="{https}"' in html
        for paper_id in [*delivery.paper_ids, *delivery.trending_ids]:
            title = titles[paper_id]
            assert title[:40] in " ".join(text.split()), title
        assert delivery.paper_ids or delivery.trending_ids
        assert "Pacific" not in msg["Subject"]


def test_running_again_sends_nothing_twice(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    sink: tuple[SinkHandler, int],
) -> None:
    handler, port = sink
    settings = settings.model_copy(update={"smtp_port": port})
    setup_world(factory, clock)
    run_once(factory, settings, clock)
    clock.advance(hours=1)
    assert run_once(factory, settings, clock).sent == 0
    clock.advance(days=1)  # the next edition: new papers only, none sent before
    pipeline.ingest_file(factory, SAMPLES / "hf_daily_papers_2024-05-29.json", clock())
    run_once(factory, settings, clock)
    with factory() as session:
        sent = session.execute(select(SentPaper.subscriber_id, SentPaper.arxiv_id)).all()
    assert len(sent) == len(set(sent))
    seen: dict[str, set[str]] = {}
    for received in handler.messages:
        body = received.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        ids = set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", body))
        assert not ids & seen.get(received.rcpt_tos[0], set()), "a paper was sent twice"
        seen.setdefault(received.rcpt_tos[0], set()).update(ids)
