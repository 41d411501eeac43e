"""Rendering the pages: one Jinja environment over ``templates/web`` with autoescape pinned on
(every template here is HTML, whatever its suffix) and StrictUndefined."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from service.config import Settings
from service.render.env import TEMPLATES
from service.web import csrf
from service.web.views import Choices, Site

WEB_TEMPLATES = TEMPLATES / "web"
STATIC = WEB_TEMPLATES / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(WEB_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    names = {n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV"))}
    return ("UTC", *sorted(names))


def choices() -> Choices:
    return Choices(timezones=timezones())


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def render_html(request: Request, template: str, **context: Any) -> str:
    settings = settings_of(request)
    return (
        environment()
        .get_template(template)
        .render(
            site=Site(name=settings.mail_from_name, dev_inbox=settings.dev_inbox),
            csrf=csrf.form_token(settings.secret_keys(), csrf.cookie_value(request)),
            **context,
        )
    )


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A full page; sets the CSRF cookie its forms need. Token pages are never cached or
    indexed (the URL is the credential)."""
    response = HTMLResponse(render_html(request, template, **context), status_code=status)
    csrf.set_cookie(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response
