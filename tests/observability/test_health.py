"""``/healthz`` says the process answers; ``/readyz`` says the database answers and its schema
is current (503 with what to do otherwise); both are served by the real web app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker
from service.web.health import router
from tests.observability.helpers import value
from tests.servers import free_port


def health_app(factory: sessionmaker[Session]) -> TestClient:
    app = FastAPI()
    app.state.factory = factory
    app.include_router(router)
    return TestClient(app)


def test_ready_only_once_the_schema_is_current(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    with health_app(make_sessionmaker(engine)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        before = client.get("/readyz")
        assert before.status_code == 503
        schema = before.json()["checks"][1]
        assert not schema["ok"] and "run `paperpost db upgrade`" in schema["detail"]
        migrate.upgrade(settings.database_url)
        after = client.get("/readyz")
        assert after.status_code == 200 and after.json()["status"] == "ready"
        assert [c["name"] for c in after.json()["checks"]] == ["database", "schema"]
    engine.dispose()


def test_not_ready_when_the_database_is_unreachable() -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    dead = make_sessionmaker(make_engine(url, connect_args={"connect_timeout": 1}))
    with health_app(dead) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == [
            {"name": "database", "ok": False, "detail": "unreachable: OperationalError"}
        ]
        assert client.get("/healthz").status_code == 200  # alive all the same


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_web_app_serves_health_and_metrics_over_http(settings: Settings) -> None:
    from service.web.app import create_app

    migrate.upgrade(settings.database_url)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 200
        scrape = http.get("/metrics")
        assert scrape.status_code == 200
        assert value(scrape.text, "paperpost_database_up") == 1
        assert value(scrape.text, "paperpost_queue_depth") == 0
