"""The database matrix, loaded as a pytest plugin by ``tests/conftest.py``.

``PAPERPOST_TEST_DATABASE=postgresql`` gives every test that uses the ``settings`` fixture (and so
``factory`` and ``session``) a throwaway PostgreSQL database of its own, created empty and dropped
after the test; the default, ``sqlite``, gives a fresh SQLite file under the test's tmp_path.

Two markers are added at collection so CI can split the suite without a list of files:
``db`` on tests that use those fixtures, ``fault`` on the fault-injection suite (``tests/faults/``
or a ``test_fault*.py`` file). CI runs ``-m "not fault"`` on SQLite, then ``-m "db or fault"`` on
PostgreSQL: the fault suite once, on PostgreSQL, and nothing that is database-independent twice.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.servers import PG_ADMIN_URL, postgres_available, require

BACKENDS = ("sqlite", "postgresql")
DB_FIXTURES = {"settings", "factory", "session", "database_url"}


def backend() -> str:
    name = os.environ.get("PAPERPOST_TEST_DATABASE", "sqlite").lower()
    if name not in BACKENDS:
        raise pytest.UsageError(f"PAPERPOST_TEST_DATABASE={name!r}: use sqlite or postgresql")
    return name


@cache
def _admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)


@cache
def _postgres_up() -> bool:
    return postgres_available()


def fresh_postgres() -> Iterator[str]:
    """An empty database for one test; dropped with FORCE, so connections the code under test
    left open (cached engines) cannot keep it alive."""
    if not _postgres_up():
        require(
            f"PAPERPOST_TEST_DATABASE=postgresql but PostgreSQL is not reachable at {PG_ADMIN_URL}"
        )
    name = f"paperpost_t_{uuid.uuid4().hex[:16]}"
    with _admin().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database for this test, on the backend the matrix selects."""
    if backend() == "postgresql":
        yield from fresh_postgres()
    else:
        yield f"sqlite:///{tmp_path / 'paperpost.sqlite'}"


def pytest_configure(config: pytest.Config) -> None:
    backend()  # refuse a misspelt backend before anything runs
    config.addinivalue_line("markers", "db: uses the database of the matrix (added automatically)")
    config.addinivalue_line("markers", "fault: fault-injection suite, run once, on PostgreSQL")


def is_fault_test(item: pytest.Item) -> bool:
    path = Path(str(item.path))
    return "faults" in path.parts or path.name.startswith("test_fault")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
        if is_fault_test(item):
            item.add_marker(pytest.mark.fault)


def pytest_report_header() -> str:
    return f"paperpost test database: {backend()}"
