"""The public subscribe page, its preview, and "mail me my preferences link". Whatever state
an address is in, a submission gets the same answer (RELIABILITY.md W5)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.track.account import mail_preferences_link_to
from service.track.addresses import InvalidAddress, normalize_email
from service.track.ratelimit import client_subject
from service.track.subscription import request_subscription
from service.web import messages
from service.web.deps import (
    CheckedFormDep,
    ClientIpDep,
    FormDep,
    LimiterDep,
    NowDep,
    RulesDep,
    SessionDep,
    SettingsDep,
)
from service.web.forms import Parsed, parse_schedule, parse_subscribe, subscription_request, text
from service.web.pages import choices, page, render_html
from service.web.preview import preview
from service.web.views import NO_PREVIEW, Preview, ScheduleForm, SubscribePage

router = APIRouter(include_in_schema=False)


@router.get("/")
def subscribe_form(request: Request) -> HTMLResponse:
    view = SubscribePage(form=ScheduleForm(), email="", choices=choices(), preview=NO_PREVIEW)
    return page(request, "subscribe.html", v=view)


@router.post("/", response_model=None)
def subscribe(
    request: Request,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    rules: RulesDep,
    now: NowDep,
    ip: ClientIpDep,
) -> Response:
    parsed, raw_email, email = parse_subscribe(settings, form)
    if text(form, "action", 20) == "preview":
        shown = _preview_or_limit(request, session, limiter, rules, parsed, now, ip)
        return _form_page(request, parsed, raw_email, shown, status=200, errors={})
    if parsed.errors:
        return _form_page(request, parsed, raw_email, NO_PREVIEW, 400, parsed.errors)
    if not limiter.hit(session, rules.subscribe_ip, client_subject(ip), now):
        return page(request, "message.html", status=429, v=messages.TOO_MANY)
    request_subscription(session, settings, limiter, subscription_request(parsed, email), ip, now)
    return RedirectResponse("/check-your-inbox", status_code=303)


def _preview_or_limit(
    request: Request,
    session: SessionDep,
    limiter: LimiterDep,
    rules: RulesDep,
    parsed: Parsed,
    now: NowDep,
    ip: str | None,
) -> Preview:
    if not limiter.hit(session, rules.preview_ip, client_subject(ip), now):
        return Preview(shown=True, note="Too many previews in a minute; wait a moment.")
    return preview(session, request.app.state.settings, parsed.interests, parsed.problems, now)


def _form_page(
    request: Request,
    parsed: Parsed,
    raw_email: str,
    shown: Preview,
    status: int,
    errors: dict[str, str],
) -> HTMLResponse:
    view = SubscribePage(
        form=parsed.form,
        email=raw_email,
        choices=choices(),
        preview=Preview(shown=True, problems=parsed.problems) if parsed.problems else shown,
        errors=errors,
        guess_timezone=False,
    )
    return page(request, "subscribe.html", status=status, v=view)


@router.post("/preview")
def live_preview(
    request: Request,
    form: FormDep,
    session: SessionDep,
    limiter: LimiterDep,
    rules: RulesDep,
    now: NowDep,
    ip: ClientIpDep,
) -> HTMLResponse:
    """The preview block alone, for the page's script (read-only, so no CSRF token)."""
    parsed = parse_schedule(form)
    shown = _preview_or_limit(request, session, limiter, rules, parsed, now, ip)
    html = render_html(request, "_preview.html", preview=shown)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/check-your-inbox")
def check_inbox(request: Request) -> HTMLResponse:
    return page(request, "message.html", v=messages.CHECK_INBOX)


@router.get("/manage")
def manage_form(request: Request) -> HTMLResponse:
    return page(request, "manage.html", email="", error="")


@router.post("/manage", response_model=None)
def manage(
    request: Request,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    rules: RulesDep,
    now: NowDep,
    ip: ClientIpDep,
) -> Response:
    raw = text(form, "email", 1000).strip()
    try:
        email = normalize_email(raw)
    except InvalidAddress:
        error = "Enter a valid email address, like ada@example.org."
        return page(request, "manage.html", status=400, email=raw, error=error)
    if not limiter.hit(session, rules.subscribe_ip, client_subject(ip), now):
        return page(request, "message.html", status=429, v=messages.TOO_MANY)
    mail_preferences_link_to(session, settings, limiter, email, now)
    return RedirectResponse("/link-sent", status_code=303)


@router.get("/link-sent")
def link_sent(request: Request) -> HTMLResponse:
    return page(request, "message.html", v=messages.LINK_SENT)
