"""``paperpost web`` over real HTTP on 127.0.0.1: one-click unsubscribe as mail providers send
it, and the rate limits in a real Redis, and in the database while Redis is down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store.models import DeliveryKind, SubscriberStatus
from service.track.tokens import Purpose
from tests.servers import free_port, private_redis
from tests.web.conftest import ADMIN_TOKEN, outbox, status_of, subscriber, token
from tests.web.server import web_process

FORM = {"email": "ada@example.org", "interests": "diffusion", "include_trending": "on"}


def serve(settings: Settings, tmp_path: Path, **changes: object):
    live = settings.model_copy(update={"admin_token": ADMIN_TOKEN, **changes})
    return web_process(live, free_port(), tmp_path)


@pytest.fixture
def base(settings: Settings, factory: sessionmaker[Session], tmp_path: Path) -> Iterator[str]:
    with serve(settings, tmp_path) as url:
        yield url


def subscribe(client: httpx.Client, form: dict[str, str]) -> httpx.Response:
    page = client.get("/")
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found
    return client.post("/", data={**form, "csrf_token": found.group(1)})


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_over_http(
    base: str, factory: sessionmaker[Session], settings: Settings, encoding: str
) -> None:
    sid = subscriber(factory)
    url = f"{base}/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    assert httpx.head(url).status_code == 200 and httpx.get(url).status_code == 200
    assert status_of(factory, sid) == SubscriberStatus.active  # GET and HEAD change nothing
    if encoding == "urlencoded":  # exactly what Gmail sends
        body = {"content": b"List-Unsubscribe=One-Click",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"}}  # fmt: skip
    else:
        body = {"files": {"List-Unsubscribe": (None, b"One-Click")}}
    for _ in range(2):
        response = httpx.post(url, follow_redirects=False, **body)  # type: ignore[arg-type]
        assert response.status_code == 200 and "location" not in response.headers
    assert status_of(factory, sid) == SubscriberStatus.unsubscribed


def test_admin_api_over_http(base: str) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert httpx.get(f"{base}/api/stats").status_code == 401
    assert httpx.get(f"{base}/api/stats", headers=auth).json()["subscribers"] == {}
    assert httpx.get(f"{base}/openapi.json").json()["info"]["title"].endswith("admin API")


def test_limits_in_redis(
    settings: Settings, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with private_redis() as redis_url, serve(settings, tmp_path, redis_url=redis_url) as url:
        with httpx.Client(base_url=url) as client:
            codes = [subscribe(client, FORM).status_code for _ in range(4)]
        keys = redis.Redis.from_url(redis_url).keys("paperpost:rl:*")
    assert codes == [303] * 4
    assert len(outbox(factory, DeliveryKind.confirm)) == 3
    assert sorted(k.decode().split(":")[2] for k in keys) == ["confirm-to", "subscribe-ip"]


def test_redis_down_means_the_database_counts(
    settings: Settings, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with serve(settings, tmp_path, redis_url=dead) as url, httpx.Client(base_url=url) as client:
        codes = [subscribe(client, {**FORM, "email": f"p{n}@example.org"}).status_code
                 for n in range(6)]  # fmt: skip
    assert codes == [303] * 5 + [429]  # no 5xx; the per-client limit still holds
    assert len(outbox(factory, DeliveryKind.confirm)) == 5
