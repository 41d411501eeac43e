"""The web app on a fresh database with a fake clock, and helpers to read its pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store.db import transaction
from service.store.models import Delivery, DeliveryKind, Subscriber, SubscriberStatus
from service.track.events import SubscriberInput, add_subscriber
from service.track.ratelimit import DatabaseLimiter
from service.track.tokens import Purpose, make_token
from service.web.app import create_app
from tests.fakes import FakeClock

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
BASE = "https://paperpost.example"


@pytest.fixture
def web_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"dev_inbox": True, "admin_token": ADMIN_TOKEN, "mail_dir": tmp_path / "mail"}
    )


@pytest.fixture
def app(web_settings: Settings, factory: sessionmaker[Session], clock: FakeClock) -> FastAPI:
    return create_app(web_settings, factory, clock=clock, limiter=DatabaseLimiter())


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, client=("192.0.2.10", 50000)) as c:
        yield c


def client_from(app: FastAPI, ip: str) -> TestClient:
    return TestClient(app, base_url=BASE, client=(ip, 50000))


_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(client: TestClient, path: str) -> str:
    """GET the page (which sets the cookie) and return its form token."""
    response = client.get(path)
    found = _CSRF.search(response.text)
    assert found, f"no CSRF field on {path}: {response.status_code}"
    return found.group(1)


def subscriber(
    factory: sessionmaker[Session],
    email: str = "ada@example.org",
    status: SubscriberStatus = SubscriberStatus.active,
    interests: tuple[str, ...] = ("diffusion",),
) -> int:
    with transaction(factory) as session:
        row = add_subscriber(
            session,
            SubscriberInput(email, interests),
            dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            "cli",
            confirmed=status != SubscriberStatus.pending,
        )
        row.status = status
        return row.id


def token(
    factory: sessionmaker[Session], settings: Settings, purpose: Purpose, subscriber_id: int
) -> str:
    with factory() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return make_token(settings.secret_keys(), purpose, row.id, row.token_secret)


def outbox(factory: sessionmaker[Session], kind: DeliveryKind | None = None) -> list[Delivery]:
    with factory() as session:
        query = select(Delivery).order_by(Delivery.id)
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        return list(session.scalars(query))


def status_of(factory: sessionmaker[Session], subscriber_id: int) -> str | None:
    with factory() as session:
        return session.scalar(select(Subscriber.status).where(Subscriber.id == subscriber_id))


def link_path(delivery: Delivery) -> str:
    return str(delivery.payload["action_url"]).removeprefix(BASE)
