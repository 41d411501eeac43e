"""Links from mails: confirm and unsubscribe (RFC 8058 one-click), and every way a token can be
wrong: forged, for another purpose, expired, replayed, revoked (RELIABILITY.md U5-U13, W1-W4,
W8)."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store.db import transaction
from service.store.models import DeliveryKind, Event, Subscriber, SubscriberStatus
from service.track.tokens import Purpose
from tests.fakes import FakeClock
from tests.web.conftest import csrf_of, link_path, outbox, status_of, subscriber, token

FORM = {"email": "ada@example.org", "interests": "diffusion", "include_trending": "on"}


def subscribe(client: TestClient, factory: sessionmaker[Session]) -> str:
    """Subscribe through the form; the path of the confirm link in the queued mail."""
    client.post("/", data={**FORM, "csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    return link_path(outbox(factory, DeliveryKind.confirm)[-1])


def confirm(client: TestClient, path: str):
    return client.post(path, data={"csrf_token": csrf_of(client, "/")})


def events(factory: sessionmaker[Session], kind: str) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).where(Event.kind == kind)) or 0)


def test_confirm_get_shows_a_button_and_changes_nothing(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    path = subscribe(client, factory)
    for _ in range(3):  # link scanners
        page = client.get(path)
        assert page.status_code == 200 and 'id="confirm"' in page.text and "<form" in page.text
    with factory() as session:
        assert session.scalar(select(Subscriber.status)) == SubscriberStatus.pending


def test_confirm_post_activates_once(client: TestClient, factory: sessionmaker[Session]) -> None:
    path = subscribe(client, factory)
    first, second = confirm(client, path), confirm(client, path)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text and "subscribed" in first.text
    with factory() as session:
        assert session.scalar(select(Subscriber.status)) == SubscriberStatus.active
    assert len(outbox(factory, DeliveryKind.welcome)) == 1  # W2: no second welcome
    assert events(factory, "confirm") == 1


def test_confirm_needs_the_csrf_token(client: TestClient, factory: sessionmaker[Session]) -> None:
    path = subscribe(client, factory)
    client.get(path)
    assert client.post(path, data={}).status_code == 403
    assert client.post(path, data={"csrf_token": "0" * 64}).status_code == 403
    with factory() as session:
        assert session.scalar(select(Subscriber.status)) == SubscriberStatus.pending


@pytest.mark.parametrize(("age", "expired"), [(47 * 3600, False), (48 * 3600 + 5, True)])
def test_confirm_expires_after_48_hours(
    client: TestClient,
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    age: int,
    expired: bool,
) -> None:
    import time

    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() - age)
        path = subscribe(client, factory)
    page = client.get(path)
    assert (page.status_code, "expired" in page.text) == ((400, True) if expired else (200, False))
    response = client.post(path, data={"csrf_token": csrf_of(client, "/")})
    assert (response.status_code == 400) is expired
    with factory() as session:
        status = session.scalar(select(Subscriber.status))
    assert status == (SubscriberStatus.pending if expired else SubscriberStatus.active)


@pytest.mark.parametrize(("purpose", "life"), [(Purpose.prefs, 30 * 86400), (Purpose.manage, 3600)])
def test_preference_and_account_links_expire(
    client: TestClient,
    factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    purpose: Purpose,
    life: int,
) -> None:
    import time

    sid = subscriber(factory)
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() - life + 60)
        fresh = token(factory, settings, purpose, sid)
        patch.setattr(time, "time", lambda: real() - life - 5)
        stale = token(factory, settings, purpose, sid)
    assert client.get(ROUTES[purpose].format(fresh)).status_code == 200
    response = client.get(ROUTES[purpose].format(stale))
    assert response.status_code == 400 and "expired" in response.text


def forge(token_text: str) -> str:
    """Change the payload (another subscriber id), keep the signature: a forgery."""
    if "." not in token_text:  # a compact unsubscribe token: five bytes of id, then the MAC
        raw = base64.urlsafe_b64decode(token_text + "==")
        other = (int.from_bytes(raw[:5], "big") + 1).to_bytes(5, "big")
        return base64.urlsafe_b64encode(other + raw[5:]).rstrip(b"=").decode()
    payload, _, rest = token_text.partition(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data[0] += 1
    raw = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=")
    return raw.decode() + "." + rest


ROUTES = {
    Purpose.confirm: "/confirm/{}",
    Purpose.unsubscribe: "/unsubscribe/{}",
    Purpose.prefs: "/preferences/{}",
    Purpose.manage: "/account/{}",
}


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_forged_and_garbage_tokens_are_refused(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, purpose: Purpose
) -> None:
    sid = subscriber(factory)
    subscriber(factory, "bob@example.org")
    good = token(factory, settings, purpose, sid)
    for bad in (forge(good), good[:-3] + "AAA", "not-a-token", "x" * 300):
        response = client.get(ROUTES[purpose].format(bad))
        assert response.status_code in (400, 404), bad
        assert "not valid" in response.text or "nothing here" in response.text


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_a_token_of_another_purpose_fails(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, purpose: Purpose
) -> None:
    sid = subscriber(factory)
    for other in Purpose:
        if other is purpose:
            continue
        response = client.get(ROUTES[purpose].format(token(factory, settings, other, sid)))
        assert response.status_code == 400, (purpose, other)
        assert "not valid" in response.text


def test_tokens_carry_no_address(factory: sessionmaker[Session], settings: Settings) -> None:
    sid = subscriber(factory)
    for purpose in Purpose:
        text = token(factory, settings, purpose, sid)
        decoded = base64.urlsafe_b64decode(text.split(".")[0] + "==")
        assert b"ada" not in decoded and b"example" not in decoded


def test_tokens_survive_a_key_rotation(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, clock: FakeClock
) -> None:
    from service.track.ratelimit import DatabaseLimiter
    from service.web.app import create_app

    sid = subscriber(factory)
    old = {p: token(factory, settings, p, sid) for p in Purpose if p is not Purpose.confirm}
    rotated = settings.model_copy(
        update={
            "secret_key": "a-brand-new-key-" + "x" * 40,
            "old_secret_keys": [settings.secret_key],
        }
    )
    with TestClient(
        create_app(rotated, factory, clock=clock, limiter=DatabaseLimiter()),
        base_url="https://paperpost.example",
    ) as c:
        for purpose, text in old.items():
            assert c.get(ROUTES[purpose].format(text)).status_code == 200, purpose
    dropped = settings.model_copy(update={"secret_key": "another-key-" + "y" * 40})
    with TestClient(
        create_app(dropped, factory, clock=clock, limiter=DatabaseLimiter()),
        base_url="https://paperpost.example",
    ) as c:
        assert (
            c.get(ROUTES[Purpose.unsubscribe].format(old[Purpose.unsubscribe])).status_code == 400
        )


def test_rotating_the_subscriber_secret_revokes(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory)
    old = token(factory, settings, Purpose.unsubscribe, sid)
    with transaction(factory) as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        row.token_secret = "0" * 32
    assert client.get(f"/unsubscribe/{old}").status_code == 400


# -- unsubscribe --------------------------------------------------------------------------------


def test_unsubscribe_get_never_changes_state(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200 and 'id="unsubscribe"' in page.text
    assert status_of(factory, sid) == SubscriberStatus.active
    assert events(factory, "unsubscribe") == 0


def _one_click(path: str, multipart: bool):
    """A mail provider's POST: its own HTTP client, no cookies, no CSRF token."""
    from service.web.app import create_app  # noqa: F401 - same app, fresh client below

    if multipart:
        return dict(files={"List-Unsubscribe": (None, "One-Click")})
    return dict(
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post(
    app, factory: sessionmaker[Session], settings: Settings, encoding: str
) -> None:
    sid = subscriber(factory)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    with TestClient(app, base_url="https://paperpost.example", follow_redirects=False) as provider:
        assert not provider.cookies
        responses = [
            provider.post(path, **_one_click(path, encoding == "multipart")) for _ in range(3)
        ]
    for response in responses:
        assert response.status_code == 200  # U8: never a redirect
        assert "location" not in response.headers
    assert "unsubscribed" in responses[0].text
    assert status_of(factory, sid) == SubscriberStatus.unsubscribed
    assert events(factory, "unsubscribe") == 1  # U10: idempotent
    with factory() as session:
        source = session.scalar(select(Event.source).where(Event.kind == "unsubscribe"))
    assert source == "one-click"
    assert outbox(factory, DeliveryKind.goodbye) == []  # no mail after a one-click


def test_one_click_with_an_empty_or_odd_body_still_unsubscribes(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    response = client.post(
        path, content=b"\x00\xff", headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 200
    assert status_of(factory, sid) == SubscriberStatus.unsubscribed


def test_page_button_unsubscribes_and_says_goodbye(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    client.get(path)
    response = client.post(path, data={"List-Unsubscribe": "One-Click", "via": "page"})
    assert response.status_code == 200 and 'id="resubscribe"' in response.text
    [goodbye] = outbox(factory, DeliveryKind.goodbye)
    assert goodbye.subscriber_id == sid
    client.post(path, data={"via": "page"})
    assert len(outbox(factory, DeliveryKind.goodbye)) == 1


def test_resubscribe_button(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory, status=SubscriberStatus.unsubscribed)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    page = client.get(path)
    assert 'id="resubscribe"' in page.text
    assert client.post(f"{path}/resubscribe", data={}).status_code == 403  # CSRF
    response = client.post(f"{path}/resubscribe", data={"csrf_token": csrf_of(client, path)})
    assert response.status_code == 200 and "Welcome back" in response.text
    assert status_of(factory, sid) == SubscriberStatus.active
    assert events(factory, "resubscribe") == 1


def test_unsubscribe_tokens_never_expire(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, clock: FakeClock
) -> None:
    sid = subscriber(factory)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    clock.advance(days=3650)
    assert client.post(path).status_code == 200
    assert status_of(factory, sid) == SubscriberStatus.unsubscribed


def test_unsubscribe_of_an_erased_subscriber_is_a_plain_200(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = subscriber(factory)
    path = f"/unsubscribe/{token(factory, settings, Purpose.unsubscribe, sid)}"
    with transaction(factory) as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        session.delete(row)
    response = client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "no subscription" in response.text.lower()


def test_unsubscribe_tokens_are_compact_and_old_long_ones_still_work(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    """U14: a 22-character token keeps each List-Unsubscribe part short; mail sent before
    carries the longer signed form, which keeps working (U13)."""
    from itsdangerous import URLSafeSerializer

    sid = subscriber(factory)
    compact = token(factory, settings, Purpose.unsubscribe, sid)
    assert len(compact) == 22 and "." not in compact
    with factory() as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        old = URLSafeSerializer(settings.secret_keys(), salt="unsubscribe").dumps(
            [sid, row.token_secret[:8]]
        )
    assert len(old) > 22
    for form in (compact, old):
        page = client.get(f"/unsubscribe/{form}")
        assert page.status_code == 200 and "not valid" not in page.text
    assert (
        client.post(f"/unsubscribe/{compact}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    assert status_of(factory, sid) == SubscriberStatus.unsubscribed
