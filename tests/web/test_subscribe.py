"""The subscribe page: the form, its errors and preview, the same answer for every address, and
the rate limits (RELIABILITY.md W5, W6)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from service.store.db import transaction
from service.store.models import DeliveryKind, SubscriberStatus
from service.track.events import suppress
from tests.fakes import FakeClock
from tests.web.conftest import client_from, csrf_of, outbox, subscriber

FORM = {
    "email": "ada@example.org",
    "interests": '"diffusion model"\ncat:cs.CV',
    "timezone": "Europe/Berlin",
    "send_hour": "7",
    "frequency": "weekly",
    "weekday": "2",
    "include_trending": "on",
}


def post(client: TestClient, data: dict[str, str], **kw: object):
    return client.post(
        "/", data={**data, "csrf_token": csrf_of(client, "/")}, follow_redirects=False, **kw
    )  # type: ignore[arg-type]


def test_form_page(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    for name in (
        "email",
        "interests",
        "timezone",
        "send_hour",
        "frequency",
        "weekday",
        "include_trending",
    ):
        assert f'name="{name}"' in page.text
    assert "cat:cs.CV" in page.text  # the syntax is explained
    assert 'value="Europe/Berlin"' in page.text and "data-guess" in page.text
    assert "paperpost_csrf=" in page.headers["set-cookie"]
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=lax" in page.headers["set-cookie"]


def test_subscribe_queues_a_confirm_mail_and_redirects(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    response = post(client, FORM)
    assert response.status_code == 303 and response.headers["location"] == "/check-your-inbox"
    assert "Check your inbox" in client.get("/check-your-inbox").text
    [mail] = outbox(factory)
    assert mail.kind == DeliveryKind.confirm
    assert mail.payload["request"]["timezone"] == "Europe/Berlin"
    assert mail.payload["request"]["weekday"] == 2


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not an address"}, "email", "valid email address"),
        ({"email": ""}, "email", "valid email address"),
        ({"interests": '"unclosed phrase'}, "interests", "never closed"),
        ({"interests": "", "include_trending": ""}, "interests", "at least one interest"),
        ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
        ({"send_hour": "25"}, "send_hour", "between 0 and 23"),
        ({"frequency": "hourly"}, "frequency", "daily or weekly"),
    ],
)
def test_errors_keep_what_was_typed(
    client: TestClient,
    factory: sessionmaker[Session],
    change: dict[str, str],
    field: str,
    message: str,
) -> None:
    data = {k: v for k, v in {**FORM, **change}.items() if v != ""}
    response = post(client, data)
    assert response.status_code == 400
    assert message in response.text
    assert "&#34;diffusion model&#34;" in response.text or field == "interests"
    assert outbox(factory) == []


def test_interest_error_names_the_line_and_position(client: TestClient) -> None:
    response = post(client, {**FORM, "interests": "diffusion\ncat:cs.CV OR"})
    assert response.status_code == 400
    assert "Line 2" in response.text and "at character" in response.text


def test_typed_markup_is_escaped(client: TestClient) -> None:
    response = post(
        client, {**FORM, "email": "<script>alert(1)</script>", "interests": "<b>x</b> OR"}
    )
    assert "<script>alert(1)" not in response.text and "&lt;script&gt;" in response.text
    assert "<b>x</b>" not in response.text


def _states(factory: sessionmaker[Session]) -> None:
    subscriber(factory, "pending@example.org", SubscriberStatus.pending)
    subscriber(factory, "active@example.org", SubscriberStatus.active)
    subscriber(factory, "gone@example.org", SubscriberStatus.unsubscribed)
    subscriber(factory, "bounced@example.org", SubscriberStatus.suppressed)
    with transaction(factory) as session:
        from service.store.models import utcnow

        suppress(session, "erased@example.org", "erased", utcnow())


def test_no_enumeration_same_response_for_every_state(
    app: FastAPI, factory: sessionmaker[Session]
) -> None:
    """Status, headers and body are identical for a new, pending, active, unsubscribed,
    suppressed and erased address (W5); only the outbox differs."""
    _states(factory)
    answers = []
    for n, local in enumerate(["new", "pending", "active", "gone", "bounced", "erased"]):
        with client_from(app, f"198.51.100.{n}") as c:
            token = csrf_of(c, "/")
            response = c.post(
                "/",
                data={**FORM, "email": f"{local}@example.org", "csrf_token": token},
                follow_redirects=False,
            )
            headers = {k: v for k, v in response.headers.items() if k != "date"}
            answers.append((response.status_code, headers, response.content))
            followed = c.get(response.headers["location"])
            answers[-1] += (followed.status_code, followed.content)
    assert all(a == answers[0] for a in answers), answers
    kinds = sorted(d.kind for d in outbox(factory))
    assert kinds == ["confirm", "confirm", "confirm", "notice"]  # new, pending, gone; active


def test_preview_without_javascript(client: TestClient, factory: sessionmaker[Session]) -> None:
    response = post(client, {**FORM, "email": "", "action": "preview"})
    assert response.status_code == 200
    assert 'id="preview"' in response.text
    assert outbox(factory) == []


def test_live_preview_fragment(client: TestClient) -> None:
    response = client.post("/preview", data={"interests": 'diffusion\n"broken'})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div class="preview"')
    assert "never closed" in response.text


def test_per_ip_limit_is_five_an_hour(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    codes = [post(client, {**FORM, "email": f"p{n}@example.org"}).status_code for n in range(6)]
    assert codes == [303] * 5 + [429]
    assert len(outbox(factory)) == 5
    clock.advance(hours=1, seconds=1)
    assert post(client, {**FORM, "email": "later@example.org"}).status_code == 303


def test_per_address_limit_across_many_ips(app: FastAPI, factory: sessionmaker[Session]) -> None:
    """Subscription bombing from many addresses: at most 3 mails a day to one inbox, and the
    answer does not change when the limit is reached."""
    bodies = set()
    for n in range(6):
        with client_from(app, f"203.0.113.{n}") as c:
            response = c.post(
                "/", data={**FORM, "csrf_token": csrf_of(c, "/")}, follow_redirects=False
            )
            assert response.status_code == 303
            bodies.add(response.content)
    assert len(bodies) == 1
    assert len(outbox(factory, DeliveryKind.confirm)) == 3


def test_denied_domain_is_refused_on_the_form(
    web_settings, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    from service.track.ratelimit import DatabaseLimiter
    from service.web.app import create_app

    strict = web_settings.model_copy(update={"denied_domains": ["mailinator.com"]})
    with TestClient(
        create_app(strict, factory, clock=clock, limiter=DatabaseLimiter()),
        base_url="https://paperpost.example",
    ) as c:
        response = post(c, {**FORM, "email": "x@mailinator.com"})
    assert response.status_code == 400 and "cannot subscribe here" in response.text
    assert outbox(factory) == []


def test_manage_mails_a_preferences_link_without_enumeration(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    subscriber(factory, "ada@example.org")
    answers = []
    for email in ("ada@example.org", "nobody@example.org"):
        response = client.post(
            "/manage",
            data={"email": email, "csrf_token": csrf_of(client, "/manage")},
            follow_redirects=False,
        )
        answers.append((response.status_code, response.headers["location"]))
    assert answers == [(303, "/link-sent")] * 2
    [mail] = outbox(factory)
    assert mail.kind == DeliveryKind.notice and "/preferences/" in mail.payload["action_url"]


def test_preview_shows_this_weeks_matches(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    from service.store.models import Paper

    with transaction(factory) as session:
        for n, (title, days) in enumerate(
            [("Video diffusion models at scale", 1), ("Diffusion for protein design", 30),
             ("Organ segmentation with transformers", 1)]
        ):  # fmt: skip
            when = clock.now - dt.timedelta(days=days)
            session.add(Paper(arxiv_id=f"2611.0000{n}", title=title, summary="An abstract.",
                              abs_url=f"https://arxiv.org/abs/2611.0000{n}", published_at=when,
                              ingested_at=when, updated_at=when))  # fmt: skip
    hits = client.post("/preview", data={"interests": "diffusion"}).text
    assert "Video diffusion models at scale" in hits
    assert "protein design" not in hits  # older than the week
    assert 'href="https://arxiv.org/abs/2611.00000"' in hits
    nothing = client.post("/preview", data={"interests": "GAN"}).text
    assert "Organ segmentation" not in nothing and "Nothing from the last week" in nothing
