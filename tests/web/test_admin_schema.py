"""schemathesis against the admin API's published OpenAPI schema: generated requests, valid and
invalid, derandomised with a cap on examples per operation. No request may get a 5xx, and every
answer must match the schema (status code, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store.db import transaction
from service.store.models import utcnow
from service.track.events import SubscriberInput, add_subscriber
from service.web.app import create_app
from tests.web.conftest import ADMIN_TOKEN

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operations() -> list[tuple[str, str]]:
    """The operations, read from the schema of an app that is never called."""
    offline = create_app(
        Settings(_env_file=None, secret_key="s" * 40, database_url="sqlite://")  # type: ignore[call-arg]
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", offline).include(path_regex="^/api/")
    return [(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())]


OPERATIONS = _operations()


def test_every_admin_operation_is_covered() -> None:
    assert len(OPERATIONS) >= 12
    assert ("POST", "/api/subscribers") in OPERATIONS and ("GET", "/api/stats") in OPERATIONS


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_admin_api_never_fails(
    app: FastAPI,
    factory: sessionmaker[Session],
    method: str,
    path: str,
    mode: schemathesis.GenerationMode,
) -> None:
    with transaction(factory) as session:  # ids 1 and 2 exist, so paths reach real rows too
        for email in ("ada@example.org", "bob@example.org"):
            add_subscriber(session, SubscriberInput(email, ["diffusion"]), utcnow(), "cli", True)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=CHECKS)

    run()
