"""CSRF for the forms (RELIABILITY.md W7): a random cookie (HttpOnly, SameSite=Lax) and a form
field that is its HMAC under the secret key; a cross-site POST has neither. Browsers' own
``Sec-Fetch-Site: cross-site`` is refused too. The one-click unsubscribe POST is exempt (it
carries no cookies by design, U7)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

COOKIE = "paperpost_csrf"
FIELD = "csrf_token"
MAX_AGE = 7 * 86400


def cookie_value(request: Request) -> str:
    """The browser's cookie, or a new one (set on the response by ``set_cookie``)."""
    value = request.cookies.get(COOKIE, "")
    if 20 <= len(value) <= 100 and value.replace("-", "").replace("_", "").isalnum():
        return value
    cached: str | None = getattr(request.state, "csrf_cookie", None)
    if cached is None:
        cached = secrets.token_urlsafe(32)
        request.state.csrf_cookie = cached
    return cached


def form_token(keys: list[str], cookie: str) -> str:
    return hmac.new(keys[0].encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()


def set_cookie(request: Request, response: Response) -> None:
    value = cookie_value(request)
    if request.cookies.get(COOKIE) == value:
        return
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def valid(request: Request, form: FormData, keys: list[str]) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    cookie = request.cookies.get(COOKIE, "")
    sent = form.get(FIELD)
    if not cookie or not isinstance(sent, str):
        return False
    return any(hmac.compare_digest(sent, form_token([key], cookie)) for key in keys)
