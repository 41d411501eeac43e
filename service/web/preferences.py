"""The preferences page (30-day link from every digest) and the account page (one-hour link,
mailed on request) with export and delete. Every form here is CSRF-protected."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.plan.schedule import zone
from service.track.account import (
    Profile,
    erase,
    export_data,
    load_account,
    load_preferences,
    mail_account_link,
    mail_preferences_link,
    update_preferences,
)
from service.track.tokens import TokenError
from service.web import messages
from service.web.deps import (
    CheckedFormDep,
    ClientIpDep,
    LimiterDep,
    NowDep,
    SessionDep,
    SettingsDep,
)
from service.web.forms import ParsedPreferences, parse_preferences
from service.web.pages import choices, page
from service.web.preview import preview
from service.web.views import AccountPage, PreferencesPage, Preview, ScheduleForm

router = APIRouter(include_in_schema=False)


def token_problem(request: Request, exc: TokenError, token: str, expired: Response) -> Response:
    if exc.reason == "expired":
        return expired
    if exc.reason == "gone":
        return page(request, "message.html", v=messages.GONE)
    return page(request, "message.html", status=400, v=messages.INVALID_LINK)


def _expired_prefs(request: Request, token: str) -> HTMLResponse:
    return page(request, "message.html", status=400, v=messages.expired_preferences(token))


@router.api_route("/preferences/{token}", methods=["GET", "HEAD"], response_model=None)
def preferences_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    try:
        profile = load_preferences(session, settings, token)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_prefs(request, token))
    view = _view(profile, token, saved=request.query_params.get("saved") == "1")
    return page(request, "preferences.html", v=view)


@router.post("/preferences/{token}", response_model=None)
def preferences_save(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ip: ClientIpDep,
) -> Response:
    parsed = parse_preferences(form)
    try:
        profile = load_preferences(session, settings, token)
        if parsed.schedule.errors:
            view = _view(profile, token, parsed=parsed)
            shown = Preview(shown=True, problems=parsed.schedule.problems)
            return page(request, "preferences.html", status=400, v=_with_preview(view, shown))
        if form.get("action") == "preview":
            shown = preview(
                session, settings, parsed.schedule.interests, parsed.schedule.problems, now
            )
            return page(
                request,
                "preferences.html",
                v=_with_preview(_view(profile, token, parsed=parsed), shown),
            )
        update_preferences(session, settings, token, parsed.change(), ip, now)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_prefs(request, token))
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


def _view(
    profile: Profile, token: str, saved: bool = False, parsed: ParsedPreferences | None = None
) -> PreferencesPage:
    form = ScheduleForm(
        interests="\n".join(profile.interests),
        timezone=profile.timezone,
        send_hour=profile.send_hour,
        frequency=profile.frequency,
        weekday=profile.weekday,
        include_trending=profile.include_trending,
    )
    paused = ""
    if profile.paused_until is not None:
        local = profile.paused_until.astimezone(zone(profile.timezone))
        paused = f"{local:%A} {local.day} {local:%B %Y}"
    return PreferencesPage(
        email=profile.email,
        status=profile.status,
        form=parsed.schedule.form if parsed else form,
        format=parsed.format if parsed else profile.format,
        summary_style=parsed.summary_style if parsed else profile.summary_style,
        max_papers=parsed.max_papers if parsed else profile.max_papers,
        paused_until=paused,
        choices=choices(),
        preview=Preview(shown=False),
        token=token,
        unsubscribe_url=f"/unsubscribe/{profile.unsubscribe_token}",
        saved=saved,
        errors=parsed.schedule.errors if parsed else {},
    )


def _with_preview(view: PreferencesPage, shown: Preview) -> PreferencesPage:
    from dataclasses import replace

    return replace(view, preview=shown)


@router.post("/preferences/{token}/renew", response_model=None)
def renew_link(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
) -> Response:
    try:
        mail_preferences_link(session, settings, limiter, token, now)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_prefs(request, token))
    return page(request, "message.html", v=messages.PREFERENCES_LINK_SENT)


@router.post("/preferences/{token}/account-link", response_model=None)
def account_link(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
) -> Response:
    try:
        mail_account_link(session, settings, limiter, token, now)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_prefs(request, token))
    return page(request, "message.html", v=messages.ACCOUNT_LINK_SENT)


def _expired_account(request: Request) -> HTMLResponse:
    return page(request, "message.html", status=400, v=messages.EXPIRED_ACCOUNT)


@router.api_route("/account/{token}", methods=["GET", "HEAD"], response_model=None)
def account_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    try:
        profile = load_account(session, settings, token)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_account(request))
    return page(request, "account.html", v=AccountPage(profile.email, token), error=False)


@router.post("/account/{token}/export", response_model=None)
def account_export(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ip: ClientIpDep,
) -> Response:
    try:
        data = export_data(session, settings, token, ip, now)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_account(request))
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="paperpost-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/account/{token}/delete", response_model=None)
def account_delete(
    request: Request,
    token: str,
    form: CheckedFormDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ip: ClientIpDep,
) -> Response:
    if form.get("confirm") != "delete":
        try:
            profile = load_account(session, settings, token)
        except TokenError as exc:
            return token_problem(request, exc, token, _expired_account(request))
        view = AccountPage(email=profile.email, token=token)
        return page(request, "account.html", status=400, v=view, error=True)
    try:
        erase(session, settings, token, ip, now)
    except TokenError as exc:
        return token_problem(request, exc, token, _expired_account(request))
    return page(request, "message.html", v=messages.DELETED)
