"""Typed dependency aliases: what a route needs, built from ``app.state`` (set once by
``create_app``), never from module globals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.config import Settings
from service.store.db import transaction
from service.track.ratelimit import Limiter, Rules
from service.web import csrf


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.factory
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (scope="function"),
    so "unsubscribed" on the page means committed."""
    with transaction(get_factory(request)) as session:
        yield session


def get_now(request: Request) -> dt.datetime:
    clock: Callable[[], dt.datetime] = request.app.state.clock
    return clock()


def get_limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


def get_rules(request: Request) -> Rules:
    return Rules.from_settings(get_settings(request))


def client_ip(request: Request) -> str | None:
    """The peer address (uvicorn rewrites it from X-Forwarded-For for trusted proxies)."""
    return request.client.host if request.client else None


async def get_form(request: Request) -> FormData:
    """The urlencoded or multipart body; files are refused and an unreadable body is empty."""
    try:
        return await request.form(max_files=0, max_fields=64, max_part_size=32 * 1024)
    except (ValueError, KeyError, AssertionError, StarletteHTTPException):
        return FormData()


async def checked_form(request: Request) -> FormData:
    """The form of a CSRF-protected POST."""
    form = await get_form(request)
    if not csrf.valid(request, form, get_settings(request).secret_keys()):
        raise HTTPException(403, "csrf")
    return form


SettingsDep = Annotated[Settings, Depends(get_settings)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
NowDep = Annotated[dt.datetime, Depends(get_now)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
RulesDep = Annotated[Rules, Depends(get_rules)]
ClientIpDep = Annotated[str | None, Depends(client_ip)]
FormDep = Annotated[FormData, Depends(get_form)]
CheckedFormDep = Annotated[FormData, Depends(checked_form)]
