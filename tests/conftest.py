from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store import db
from service.store.db import make_engine, make_sessionmaker
from service.store.models import Base
from tests.fakes import FakeClock, FakeMailer
from tests.servers import SinkHandler, smtp_sink

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "data" / "samples"
DEMO_DATA = Path(__file__).resolve().parents[1] / "service" / "demo"

# The database matrix: PAPERPOST_TEST_DATABASE=sqlite (default) or postgresql.
pytest_plugins = ["tests.databases"]


@pytest.fixture(autouse=True)
def _dispose_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every engine a test (or the code under test) creates is disposed when the test ends, so
    no pooled connection is left for the garbage collector to close."""
    created: list[Engine] = []

    def tracked(*args: Any, **kwargs: Any) -> Engine:
        engine = create_engine(*args, **kwargs)
        created.append(engine)
        return engine

    monkeypatch.setattr(db, "create_engine", tracked)
    yield
    for engine in created:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        mail_from="digest@paperpost.example",
        public_base_url="https://paperpost.example",
        mail_dir=tmp_path / "mail",
        smtp_timeout=5,
    )


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A fresh database (SQLite, or PostgreSQL in the matrix) with the current schema, for tests
    whose code commits."""
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with factory() as s, s.begin() as tx:
        yield s
        tx.rollback()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def now(clock: FakeClock) -> dt.datetime:
    return clock.now


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, int]]:
    with smtp_sink() as running:
        yield running
