"""The admin JSON API: bearer auth, subscribers CRUD, interests, suppressions, stats."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store.models import DeliveryKind, Event
from service.track.ratelimit import DatabaseLimiter
from service.web.app import create_app
from tests.fakes import FakeClock
from tests.web.conftest import ADMIN_TOKEN, outbox

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def api(client: TestClient) -> TestClient:
    client.headers.update(AUTH)
    return client


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ADMIN_TOKEN}"}]
)
def test_bearer_token_required(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in (
        ("get", "/api/subscribers"),
        ("get", "/api/stats"),
        ("delete", "/api/subscribers/1"),
    ):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_closed_without_a_configured_token(
    settings: Settings, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    app = create_app(settings, factory, clock=clock, limiter=DatabaseLimiter())
    with TestClient(app) as c:
        response = c.get("/api/stats", headers={"Authorization": "Bearer "})
        assert response.status_code == 401 and "PAPERPOST_ADMIN_TOKEN" in response.json()["detail"]


def test_subscriber_crud(api: TestClient, factory: sessionmaker[Session]) -> None:
    created = api.post(
        "/api/subscribers",
        json={
            "email": "Ada@Example.org",
            "interests": ["diffusion", "cat:cs.CV"],
            "timezone": "Europe/Berlin",
            "send_hour": 7,
            "confirmed": True,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ada@example.org" and body["status"] == "active"
    assert [(i["value"], i["kind"]) for i in body["interests"]] == [
        ("diffusion", "keyword"),
        ("cat:cs.CV", "category"),
    ]
    sid = body["id"]
    assert api.post("/api/subscribers", json={"email": "ada@example.org"}).status_code == 409
    assert api.get(f"/api/subscribers/{sid}").json()["timezone"] == "Europe/Berlin"
    patched = api.patch(
        f"/api/subscribers/{sid}", json={"frequency": "weekly", "weekday": 3, "format": "text"}
    )
    assert patched.status_code == 200 and patched.json()["frequency"] == "weekly"
    assert (
        api.patch(f"/api/subscribers/{sid}", json={"status": "unsubscribed"}).json()["status"]
        == "unsubscribed"
    )
    page = api.get("/api/subscribers", params={"status": "unsubscribed"}).json()
    assert [s["id"] for s in page["items"]] == [sid] and page["next_after"] is None
    assert api.delete(f"/api/subscribers/{sid}").status_code == 204
    assert api.get(f"/api/subscribers/{sid}").status_code == 404
    suppressions = api.get("/api/suppressions").json()["items"]
    assert [(s["reason"], s["email"]) for s in suppressions] == [("erased", None)]
    with factory() as session:
        sources = set(session.scalars(select(Event.source)))
    assert sources == {"api"}


def test_unconfirmed_subscriber_gets_a_confirm_mail(
    api: TestClient, factory: sessionmaker[Session]
) -> None:
    body = api.post(
        "/api/subscribers", json={"email": "bob@example.org", "interests": ["mamba"]}
    ).json()
    assert body["status"] == "pending"
    [mail] = outbox(factory)
    assert mail.kind == DeliveryKind.confirm and mail.subscriber_id == body["id"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"email": "not-an-address"}, 400),
        ({"email": "a@example.org", "interests": ['"open']}, 400),
        ({"email": "a@example.org", "timezone": "Nowhere/Land"}, 422),
        ({"email": "a@example.org", "send_hour": 24}, 422),
        ({"email": "a@example.org", "unknown_field": 1}, 422),
        ({"email": "a\x00@example.org"}, 422),
    ],
)
def test_invalid_subscriber_is_refused(
    api: TestClient, payload: dict[str, object], code: int
) -> None:
    response = api.post("/api/subscribers", json=payload)
    assert response.status_code == code
    assert response.json()["detail"]
    assert api.get("/api/subscribers").json()["items"] == []


def test_pagination(api: TestClient) -> None:
    ids = [
        api.post("/api/subscribers", json={"email": f"p{n}@example.org", "confirmed": True}).json()[
            "id"
        ]
        for n in range(5)
    ]
    first = api.get("/api/subscribers", params={"limit": 2}).json()
    assert [s["id"] for s in first["items"]] == ids[:2] and first["next_after"] == ids[1]
    rest = api.get("/api/subscribers", params={"limit": 10, "after": first["next_after"]}).json()
    assert [s["id"] for s in rest["items"]] == ids[2:]


def test_interests(api: TestClient) -> None:
    sid = api.post("/api/subscribers", json={"email": "ada@example.org", "confirmed": True}).json()[
        "id"
    ]
    added = api.post(f"/api/subscribers/{sid}/interests", json={"value": 'author:"Kaiming He"'})
    assert added.status_code == 201 and added.json()["kind"] == "author"
    assert (
        api.post(
            f"/api/subscribers/{sid}/interests", json={"value": 'author:"Kaiming He"'}
        ).status_code
        == 409
    )
    replaced = api.put(
        f"/api/subscribers/{sid}/interests", json={"values": ["mamba", "diffusion"]}
    ).json()
    assert [i["value"] for i in replaced] == ["mamba", "diffusion"]
    assert api.delete(f"/api/subscribers/{sid}/interests/{replaced[0]['id']}").status_code == 204
    assert [i["value"] for i in api.get(f"/api/subscribers/{sid}/interests").json()] == [
        "diffusion"
    ]
    assert api.delete(f"/api/subscribers/{sid}/interests/999999").status_code == 404


def test_suppressions(api: TestClient) -> None:
    sid = api.post("/api/subscribers", json={"email": "ada@example.org", "confirmed": True}).json()[
        "id"
    ]
    added = api.post(
        "/api/suppressions", json={"email": "ada@example.org", "note": "asked by phone"}
    )
    assert added.status_code == 201 and added.json()["reason"] == "manual"
    assert api.get(f"/api/subscribers/{sid}").json()["status"] == "suppressed"
    assert api.patch(f"/api/subscribers/{sid}", json={"status": "active"}).status_code == 409
    assert api.delete(f"/api/suppressions/{added.json()['id']}").status_code == 204
    assert api.delete(f"/api/suppressions/{added.json()['id']}").status_code == 404
    assert (
        api.patch(f"/api/subscribers/{sid}", json={"status": "active"}).json()["status"] == "active"
    )


def test_stats(api: TestClient) -> None:
    api.post("/api/subscribers", json={"email": "a@example.org", "confirmed": True})
    api.post("/api/subscribers", json={"email": "b@example.org"})
    stats = api.get("/api/stats").json()
    assert stats["subscribers"] == {"active": 1, "pending": 1}
    assert stats["deliveries_last_24h"] == {"confirm": 1}
    assert stats["events_last_24h"]["subscribe"] == 2


def test_openapi_lists_only_the_admin_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert all(path.startswith(("/api/", "/webhooks")) for path in schema["paths"]), list(
        schema["paths"]
    )
    assert "/api/subscribers" in schema["paths"]
    assert client.get("/docs").status_code == 200
