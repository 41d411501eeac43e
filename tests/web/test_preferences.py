"""The preferences page and the account page: edit, CSRF, fresh links by mail, export, delete
(RELIABILITY.md W7)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store.models import (
    DeliveryKind,
    Event,
    Interest,
    Subscriber,
    Suppression,
)
from service.track.addresses import email_hash
from service.track.tokens import Purpose
from tests.fakes import FakeClock
from tests.web.conftest import csrf_of, link_path, outbox, subscriber, token

FORM = {
    "interests": "diffusion\ncat:cs.CV",
    "frequency": "weekly",
    "weekday": "4",
    "send_hour": "18",
    "timezone": "Asia/Tokyo",
    "include_trending": "on",
    "format": "text",
    "summary_style": "ai",
    "max_papers": "7",
    "pause_weeks": "",
}


@pytest.fixture
def prefs(factory: sessionmaker[Session], settings: Settings) -> tuple[int, str]:
    sid = subscriber(factory, interests=("diffusion", "mamba"))
    return sid, f"/preferences/{token(factory, settings, Purpose.prefs, sid)}"


def row(factory: sessionmaker[Session], sid: int) -> Subscriber:
    with factory() as session:
        found = session.get(Subscriber, sid)
        assert found is not None
        found.interests  # noqa: B018 - load before the session closes
        return found


def test_page_shows_the_current_settings(client: TestClient, prefs: tuple[int, str]) -> None:
    page = client.get(prefs[1])
    assert page.status_code == 200
    assert "ada@example.org" in page.text and "diffusion\nmamba" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert 'name="csrf_token"' in page.text and "/unsubscribe/" in page.text


def test_save(client: TestClient, factory: sessionmaker[Session], prefs: tuple[int, str]) -> None:
    sid, path = prefs
    before = {i.value: i.id for i in row(factory, sid).interests}
    response = client.post(
        path, data={**FORM, "csrf_token": csrf_of(client, path)}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == f"{path}?saved=1"
    assert "Saved" in client.get(response.headers["location"]).text
    saved = row(factory, sid)
    assert (saved.frequency, saved.weekday, saved.send_hour, saved.timezone) == (
        "weekly",
        4,
        18,
        "Asia/Tokyo",
    )
    assert (saved.format, saved.summary_style, saved.max_papers) == ("text", "ai", 7)
    after = {i.value: i.id for i in saved.interests}
    assert after["diffusion"] == before["diffusion"]  # unchanged lines keep their row
    assert "mamba" not in after and "cat:cs.CV" in after
    with factory() as session:
        event = session.scalar(select(Event).where(Event.kind == "preferences"))
        assert event is not None and "interests" in event.detail["changed"]
        fresh = session.scalar(select(Interest).where(Interest.value == "cat:cs.CV"))
        assert fresh is not None and fresh.backfill_pending and fresh.kind == "category"


def test_pause_and_resume(
    client: TestClient, factory: sessionmaker[Session], prefs: tuple[int, str], clock: FakeClock
) -> None:
    sid, path = prefs
    client.post(path, data={**FORM, "pause_weeks": "2", "csrf_token": csrf_of(client, path)})
    assert row(factory, sid).paused_until == clock.now + dt.timedelta(weeks=2)
    assert "paused until" in client.get(path).text
    client.post(path, data={**FORM, "csrf_token": csrf_of(client, path)})  # "" keeps the pause
    assert row(factory, sid).paused_until == clock.now + dt.timedelta(weeks=2)
    client.post(path, data={**FORM, "pause_weeks": "0", "csrf_token": csrf_of(client, path)})
    assert row(factory, sid).paused_until is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"interests": "(unbalanced"}, "Line 1"),
        ({"max_papers": "500"}, "between 1 and 50"),
        ({"format": "pdf"}, "HTML or plain text"),
        ({"pause_weeks": "99"}, "Pause for 0 to"),
    ],
)
def test_invalid_input_changes_nothing(
    client: TestClient,
    factory: sessionmaker[Session],
    prefs: tuple[int, str],
    change: dict[str, str],
    message: str,
) -> None:
    sid, path = prefs
    response = client.post(path, data={**FORM, **change, "csrf_token": csrf_of(client, path)})
    assert response.status_code == 400 and message in response.text
    assert row(factory, sid).timezone == "UTC"


def test_csrf_is_required(
    app, client: TestClient, factory: sessionmaker[Session], prefs: tuple[int, str]
) -> None:
    sid, path = prefs
    token_field = csrf_of(client, path)
    assert client.post(path, data=FORM).status_code == 403  # no field
    assert client.post(path, data={**FORM, "csrf_token": "f" * 64}).status_code == 403  # wrong
    cross = client.post(
        path, data={**FORM, "csrf_token": token_field}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    with TestClient(app, base_url="https://paperpost.example") as stranger:  # no cookie
        assert stranger.post(path, data={**FORM, "csrf_token": token_field}).status_code == 403
    assert row(factory, sid).timezone == "UTC"
    assert "expired" in client.post(path, data=FORM).text  # a page a person understands


def test_expired_link_offers_a_fresh_one_by_mail(
    client: TestClient,
    factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    sid = subscriber(factory)
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() - 31 * 86400)
        stale = f"/preferences/{token(factory, settings, Purpose.prefs, sid)}"
    page = client.get(stale)
    assert page.status_code == 400 and f"{stale}/renew" in page.text
    response = client.post(f"{stale}/renew", data={"csrf_token": csrf_of(client, "/")})
    assert response.status_code == 200 and "on its way" in response.text
    [mail] = outbox(factory, DeliveryKind.notice)
    fresh = link_path(mail)
    assert fresh.startswith("/preferences/") and client.get(fresh).status_code == 200


def test_fresh_links_are_rate_limited(
    client: TestClient, factory: sessionmaker[Session], prefs: tuple[int, str]
) -> None:
    path = prefs[1]
    for _ in range(7):
        client.post(f"{path}/renew", data={"csrf_token": csrf_of(client, "/")})
    assert len(outbox(factory)) == 5  # link_mails_per_address_day


def account(client: TestClient, factory: sessionmaker[Session], path: str) -> str:
    response = client.post(f"{path}/account-link", data={"csrf_token": csrf_of(client, path)})
    assert response.status_code == 200 and "one hour" in response.text
    mail = outbox(factory, DeliveryKind.notice)[-1]
    assert "/account/" in mail.payload["action_url"]
    return link_path(mail)


def test_export(client: TestClient, factory: sessionmaker[Session], prefs: tuple[int, str]) -> None:
    path = prefs[1]
    account_path = account(client, factory, path)
    page = client.get(account_path)
    assert page.status_code == 200 and 'id="export"' in page.text and 'id="delete"' in page.text
    response = client.post(
        f"{account_path}/export", data={"csrf_token": csrf_of(client, account_path)}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.content)
    assert data["subscriber"]["email"] == "ada@example.org"
    assert [i["value"] for i in data["interests"]] == ["diffusion", "mamba"]
    assert {e["kind"] for e in data["events"]} >= {"subscribe", "export"}
    assert [m["kind"] for m in data["mails"]] == ["notice"]


def test_delete_keeps_only_a_suppression_hash(
    client: TestClient, factory: sessionmaker[Session], prefs: tuple[int, str]
) -> None:
    sid, path = prefs
    account_path = account(client, factory, path)
    token_field = csrf_of(client, account_path)
    unticked = client.post(f"{account_path}/delete", data={"csrf_token": token_field})
    assert unticked.status_code == 400 and "Tick the box" in unticked.text
    response = client.post(
        f"{account_path}/delete", data={"csrf_token": token_field, "confirm": "delete"}
    )
    assert response.status_code == 200 and "deleted" in response.text
    with factory() as session:
        assert session.get(Subscriber, sid) is None
        assert session.scalar(select(func.count()).select_from(Interest)) == 0
        suppression = session.scalar(select(Suppression))
        assert suppression is not None and suppression.email is None
        assert suppression.email_hash == email_hash("ada@example.org")
        assert "ada@" not in json.dumps([e.detail for e in session.scalars(select(Event))])
    assert client.get(path).status_code == 200  # the old link now says "no subscription"
    assert "no subscription" in client.get(path).text.lower()


def test_account_pages_need_the_one_hour_link(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, prefs: tuple[int, str]
) -> None:
    sid, path = prefs
    prefs_token = path.rsplit("/", 1)[1]
    for action in ("", "/export", "/delete"):
        method = client.get if not action else client.post
        response = method(
            f"/account/{prefs_token}{action}",
            **(
                {}
                if not action
                else {"data": {"csrf_token": csrf_of(client, "/"), "confirm": "delete"}}
            ),
        )
        assert response.status_code == 400, action
    assert row(factory, sid).email == "ada@example.org"
