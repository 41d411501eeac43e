"""The fault suite: real workers, Redis, PostgreSQL and SMTP on 127.0.0.1. The 10,000-row
variants carry the ``slow`` marker and run only when asked for: ``pytest -m slow tests/faults``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import drop_template


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="10,000-row variant: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _drop_fault_template() -> Iterator[None]:
    yield
    drop_template()
