"""Security headers, request size limits, escaping, and the pages nobody should reach."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.track.ratelimit import DatabaseLimiter
from service.track.tokens import Purpose
from service.web.app import create_app
from tests.fakes import FakeClock
from tests.web.conftest import subscriber, token


@pytest.mark.parametrize(
    "path", ["/", "/manage", "/check-your-inbox", "/link-sent", "/no-such-page"]
)
def test_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"  # tokens in URLs never leak onwards
    assert headers["strict-transport-security"].startswith("max-age=")


def test_token_pages_are_not_cached(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory)
    for purpose, route in ((Purpose.unsubscribe, "unsubscribe"), (Purpose.prefs, "preferences")):
        response = client.get(f"/{route}/{token(factory, settings, purpose, sid)}")
        assert response.headers["cache-control"] == "no-store"
        assert 'content="noindex, nofollow"' in response.text


def test_declared_body_over_the_limit(client: TestClient) -> None:
    response = client.post(
        "/",
        content=b"x" * (64 * 1024 + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_streamed_body_over_the_limit(client: TestClient) -> None:
    def chunks():
        for _ in range(100):
            yield b"interests=" + b"y" * 4096

    response = client.post(
        "/preview", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


def test_unknown_page_is_an_html_404(client: TestClient) -> None:
    response = client.get("/wp-login.php")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]


def test_dev_inbox_is_off_unless_enabled(
    settings: Settings, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    app = create_app(settings, factory, clock=clock, limiter=DatabaseLimiter())
    with TestClient(app, base_url="https://paperpost.example") as c:
        assert c.get("/dev/inbox").status_code == 404
        assert "Dev inbox" not in c.get("/").text


def test_production_refuses_the_dev_inbox() -> None:
    from service.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match="DEV_INBOX"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="production",
            secret_key="k" * 40,
            public_base_url="https://p.example",
            dev_inbox=True,
        )


def test_static_assets(client: TestClient) -> None:
    css = client.get("/static/paperpost.css")
    js = client.get("/static/paperpost.js")
    assert css.status_code == js.status_code == 200
    assert "Intl.DateTimeFormat" in js.text  # the time zone guess
