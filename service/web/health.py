"""``/healthz`` (alive), ``/readyz`` (database reachable, schema current) and ``/metrics``
(Prometheus: this process's counters plus the gauges of the stored state)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from service.config import Settings
from service.observability import exporter, gauges
from service.observability.health import readiness

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    report = readiness(request.app.state.factory)
    return JSONResponse(
        report.as_dict(),
        status_code=200 if report.ready else 503,
        headers={"cache-control": "no-store"},
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if settings.metrics_token and not _bearer_ok(request, settings.metrics_token):
        raise HTTPException(401, "metrics need Authorization: Bearer <PAPERPOST_METRICS_TOKEN>")
    body, content_type = exporter.exposition([_collector(request)])
    return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


def _bearer_ok(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def _collector(request: Request) -> gauges.DatabaseCollector:
    """One per app, so its short cache is shared by every scrape."""
    state = request.app.state
    collector = getattr(state, "metrics_collector", None)
    if collector is None:
        settings: Settings = state.settings
        collector = gauges.DatabaseCollector(
            state.factory,
            settings,
            clock=getattr(state, "clock", gauges.utcnow),
            broker_depth=gauges.redis_queue_depth(settings.broker_url),
        )
        state.metrics_collector = collector
    return collector
