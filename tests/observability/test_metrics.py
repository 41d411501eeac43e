"""``/metrics`` of the web app: the stages' counters, and gauges computed from the stored
state at scrape time (outbox, queue depth, recent failures and rates, subscribers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.observability import gauges
from service.observability.metrics import SMTP_REPLIES
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    FailureReason,
    IngestRun,
    Paper,
)
from service.track.events import SubscriberInput, add_subscriber, record_event
from service.web.health import router
from tests.fakes import FakeClock
from tests.observability.helpers import value
from tests.servers import free_port, private_redis


def make_app(settings: Settings, factory: sessionmaker[Session], clock: FakeClock) -> FastAPI:
    app = FastAPI()
    app.state.settings, app.state.factory, app.state.clock = settings, factory, clock
    app.include_router(router)
    return app


@pytest.fixture
def client(
    settings: Settings, factory: sessionmaker[Session], clock: FakeClock
) -> Iterator[TestClient]:
    with TestClient(make_app(settings, factory, clock)) as c:
        yield c


def add_delivery(session: Session, n: int, status: str, due: dt.datetime, **extra: object) -> None:
    session.add(
        Delivery(
            kind=DeliveryKind.digest, edition_key=f"e{n}", to_address=f"r{n}@example.org",
            status=status, message_id=f"m{n}@paperpost.example", next_attempt_at=due,
            created_at=due, paper_ids=[], trending_ids=[], payload={}, **extra,
        )
    )  # fmt: skip


def seed(factory: sessionmaker[Session], now: dt.datetime) -> None:
    hour = dt.timedelta(hours=1)
    with transaction(factory) as session:
        for n, email in enumerate(["a@example.org", "b@example.org", "c@example.org"]):
            add_subscriber(session, SubscriberInput(email), now, "test", confirmed=n < 2)
        add_delivery(session, 1, DeliveryStatus.planned, now - 2 * hour)  # due, 2 h late
        add_delivery(session, 2, DeliveryStatus.planned, now + hour)  # not due yet
        add_delivery(
            session, 3, DeliveryStatus.sending, now - hour, lease_until=now - 60 * (hour / 3600)
        )
        add_delivery(session, 4, DeliveryStatus.sending, now, lease_until=now + hour)
        for n in range(5, 23):  # 18 sent in the window
            add_delivery(session, n, DeliveryStatus.sent, now - hour)
        add_delivery(session, 23, DeliveryStatus.failed, now - hour,
                     failure_reason=FailureReason.bounced)  # fmt: skip
        add_delivery(session, 24, DeliveryStatus.failed, now - hour,
                     failure_reason=FailureReason.gave_up)  # fmt: skip
        add_delivery(session, 25, DeliveryStatus.sent, now - 48 * hour)  # outside the window
        record_event(session, "hard_bounce", "smtp", now - hour)
        record_event(session, "complaint", "feedback", now - hour)
        record_event(session, "complaint", "feedback", now - 30 * hour)  # outside
        session.add(Paper(arxiv_id="2611.00001", title="t", authors=[], categories=[], sources=[],
                          source_ids={}, ai_keywords=[], match_pending=True))  # fmt: skip
        session.add(IngestRun(source="hf", started_at=now - hour, finished_at=now - hour, new=4))


def test_gauges_describe_the_stored_state(
    client: TestClient, factory: sessionmaker[Session], now: dt.datetime
) -> None:
    seed(factory, now)
    SMTP_REPLIES.labels("sent").inc()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert value(text, "paperpost_database_up") == 1
    assert value(text, "paperpost_outbox_deliveries", status="planned") == 2
    assert value(text, "paperpost_outbox_deliveries", status="sending") == 2
    assert value(text, "paperpost_queue_depth") == 2  # row 1, and row 3 whose lease expired
    assert value(text, "paperpost_queue_oldest_due_seconds") == 7200
    assert value(text, "paperpost_recent_deliveries", status="sent") == 18
    assert value(text, "paperpost_recent_deliveries", status="failed") == 2
    assert value(text, "paperpost_recent_failures", reason="bounced") == 1
    assert value(text, "paperpost_failure_rate") == pytest.approx(2 / 20)
    assert value(text, "paperpost_bounce_rate") == pytest.approx(1 / 18)
    assert value(text, "paperpost_complaint_rate") == pytest.approx(1 / 18)
    assert value(text, "paperpost_subscribers", status="active") == 2
    assert value(text, "paperpost_subscribers", status="pending") == 1
    assert value(text, "paperpost_papers_waiting_for_match") == 1
    assert (
        value(text, "paperpost_last_ingest_timestamp_seconds")
        == (now - dt.timedelta(hours=1)).timestamp()
    )
    assert value(text, "paperpost_sending_paused") == 0
    # the stages' counters are in the same scrape
    assert (value(text, "paperpost_smtp_replies_total", outcome="sent") or 0) >= 1
    for family in ("paperpost_papers_ingested_total", "paperpost_matches_total",
                   "paperpost_send_seconds", "paperpost_deliveries_planned_total"):  # fmt: skip
        assert f"# TYPE {family.removesuffix('_total')}" in text


def test_scrape_survives_a_database_that_is_down(settings: Settings, clock: FakeClock) -> None:
    dead = make_sessionmaker(make_engine(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/x",
                                         connect_args={"connect_timeout": 1}))  # fmt: skip
    with TestClient(make_app(settings, dead, clock)) as c:
        response = c.get("/metrics")
    assert response.status_code == 200
    assert value(response.text, "paperpost_database_up") == 0
    assert value(response.text, "paperpost_queue_depth") is None


def test_metrics_token(
    settings: Settings, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    locked = settings.model_copy(update={"metrics_token": "s3cret-scrape-token"})
    with TestClient(make_app(locked, factory, clock)) as c:
        assert c.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert c.get("/metrics", headers=wrong).status_code == 401
        good = {"Authorization": "Bearer s3cret-scrape-token"}
        assert c.get("/metrics", headers=good).status_code == 200


def test_cached_between_close_scrapes(
    settings: Settings, factory: sessionmaker[Session], now: dt.datetime
) -> None:
    collector = gauges.DatabaseCollector(factory, settings, clock=lambda: now, cache_seconds=60)
    assert collector.snapshot().outbox.due == 0
    seed(factory, now)
    assert collector.snapshot().outbox.due == 0  # cached
    fresh = gauges.DatabaseCollector(factory, settings, clock=lambda: now, cache_seconds=0)
    assert fresh.snapshot().outbox.due == 2


def test_broker_queue_length_from_redis(
    settings: Settings, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    import redis

    with private_redis() as url:
        redis.Redis.from_url(url).rpush("celery", "a", "b", "c")
        on_redis = settings.model_copy(update={"broker_url": url})
        with TestClient(make_app(on_redis, factory, clock)) as c:
            text = c.get("/metrics").text
    assert value(text, "paperpost_broker_queue_length") == 3
    assert gauges.redis_queue_depth("sqla+sqlite:///x.sqlite") is None
