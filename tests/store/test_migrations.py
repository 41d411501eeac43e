"""Migrations reach head on an empty database, and models and migrations do not drift."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from service.store import migrate
from service.store.db import make_engine
from service.store.models import Base
from tests.servers import throwaway_postgres


def test_single_head() -> None:
    assert len(migrate.heads("sqlite://")) == 1


def test_sqlite_upgrade_to_head_and_no_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.heads(url)[0]
    migrate.check(url)  # raises on drift
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_postgres_upgrade_to_head_and_no_drift() -> None:
    with throwaway_postgres() as url:
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.heads(url)[0]
        migrate.check(url)
