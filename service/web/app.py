"""The FastAPI application: ``create_app(settings)`` builds everything from the settings it is
given (tests pass their own session factory and clock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from service.config import Settings
from service.store.db import make_engine, make_sessionmaker
from service.track.ratelimit import Limiter, make_limiter
from service.web import admin, devinbox, health, links, messages, preferences, public, webhooks
from service.web.pages import STATIC, page
from service.web.security import BodyLimit, SecurityHeaders


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: Settings,
    factory: sessionmaker[Session] | None = None,
    *,
    clock: Callable[[], dt.datetime] = _utcnow,
    limiter: Limiter | None = None,
) -> FastAPI:
    app = FastAPI(
        title=f"{settings.mail_from_name} admin API",
        version="1",
        description="Subscribers, interests, suppressions and stats. "
        "Send `Authorization: Bearer <PAPERPOST_ADMIN_TOKEN>`.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.factory = factory or make_sessionmaker(make_engine(settings.database_url))
    app.state.clock = clock
    app.state.limiter = limiter or make_limiter(settings)
    for router in (public.router, links.router, preferences.router, admin.router):
        app.include_router(router)
    if settings.dev_inbox:
        app.include_router(devinbox.router)
    app.include_router(health.router)  # /healthz, /readyz, /metrics
    app.include_router(webhooks.router)  # provider bounce and complaint events
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    https = settings.public_base_url.startswith("https://")
    app.add_middleware(SecurityHeaders, hsts=https)
    return app


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/webhooks", "/healthz", "/readyz", "/metrics")) or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


HTML_ERRORS = {403: messages.FORBIDDEN, 404: messages.NOT_FOUND}


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """A page a person understands for a refused form or a wrong address; JSON for the API
    and for anything else (405 and the like, which only programs meet)."""
    message = HTML_ERRORS.get(exc.status_code)
    if message is None or _wants_json(request):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    return page(request, "message.html", status=exc.status_code, v=message)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
