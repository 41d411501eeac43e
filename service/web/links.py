"""Pages reached from links in mails: confirm and unsubscribe. A GET only shows a button (link
scanners open every link); the POST acts. The unsubscribe POST is also the RFC 8058 one-click
endpoint: no cookies or CSRF token needed, 200 with no redirect, idempotent."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from service.track.subscription import (
    ConfirmOutcome,
    UnsubscribeOutcome,
    check_confirm,
    check_unsubscribe,
    confirm,
    resubscribe,
    unsubscribe,
)
from service.web import messages
from service.web.deps import CheckedFormDep, ClientIpDep, FormDep, NowDep, SessionDep, SettingsDep
from service.web.forms import text
from service.web.pages import page

router = APIRouter(include_in_schema=False)

CONFIRM_PAGES = {
    ConfirmOutcome.confirmed: (200, messages.CONFIRMED),
    ConfirmOutcome.used: (200, messages.USED),
    ConfirmOutcome.refused: (200, messages.REFUSED),
    ConfirmOutcome.expired: (400, messages.EXPIRED_CONFIRM),
    ConfirmOutcome.invalid: (400, messages.INVALID_LINK),
}


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"])
def confirm_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    state = check_confirm(session, settings, token)
    if state is ConfirmOutcome.ready:
        return page(request, "confirm.html", token=token)
    status, message = CONFIRM_PAGES[state]
    return page(request, "message.html", status=status, v=message)


@router.post("/confirm/{token}")
def confirm_post(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ip: ClientIpDep,
) -> HTMLResponse:
    state = confirm(session, settings, token, ip, now)
    status, message = CONFIRM_PAGES.get(state, (400, messages.INVALID_LINK))
    return page(request, "message.html", status=status, v=message)


UNSUBSCRIBE_STATUS = {UnsubscribeOutcome.invalid: 400}


@router.api_route("/unsubscribe/{token}", methods=["GET", "HEAD"])
def unsubscribe_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    state = check_unsubscribe(session, settings, token)
    return _unsubscribe_view(request, token, state)


@router.post("/unsubscribe/{token}")
def unsubscribe_post(
    request: Request,
    token: str,
    form: FormDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ip: ClientIpDep,
) -> HTMLResponse:
    """Any POST unsubscribes. ``via=page`` marks the page's own button (a goodbye mail
    follows); a mail provider's one-click POST sends ``List-Unsubscribe=One-Click``."""
    source = "web" if text(form, "via", 10) == "page" else "one-click"
    state = unsubscribe(session, settings, token, source, ip, now)
    return _unsubscribe_view(request, token, state)


@router.post("/unsubscribe/{token}/resubscribe")
def resubscribe_post(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ip: ClientIpDep,
) -> HTMLResponse:
    state = resubscribe(session, settings, token, ip, now)
    return _unsubscribe_view(request, token, state)


def _unsubscribe_view(request: Request, token: str, state: UnsubscribeOutcome) -> HTMLResponse:
    if state is UnsubscribeOutcome.invalid:
        return page(request, "message.html", status=400, v=messages.INVALID_LINK)
    if state is UnsubscribeOutcome.gone:
        return page(request, "message.html", v=messages.GONE)
    return page(request, "unsubscribe.html", state=state.value, token=token)
