"""Bounce and complaint webhooks. Nothing is read before the call is authenticated:

- ``POST /webhooks/feedback``: the generic format, HMAC-signed with PAPERPOST_WEBHOOK_SECRET;
- ``POST /webhooks/ses``: Amazon SES notifications delivered by SNS, signature-verified, for
  the topics in PAPERPOST_SNS_TOPIC_ARNS; a subscription is confirmed once verified.

Replays are answered 200 and change nothing (events are deduplicated by their id).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from functools import lru_cache
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from service import pipeline
from service.config import Settings
from service.track import providers

router = APIRouter()
MAX_BODY = 256 * 1024


@lru_cache(maxsize=32)
def _fetch_amazon(url: str) -> bytes:
    """Signing certificates and subscription confirmations, from Amazon SNS hosts only."""
    providers.check_amazon_url(url)
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.content


def amazon_fetcher() -> providers.Fetch:
    return _fetch_amazon


Fetcher = Annotated[providers.Fetch, Depends(amazon_fetcher)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise providers.WebhookRejected("body too large", 413)
    return body


def _answer(report: pipeline.FeedbackReport) -> JSONResponse:
    return JSONResponse(
        {"accepted": report.events - report.duplicates, "duplicates": report.duplicates}
    )


def _rejected(exc: providers.WebhookRejected) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


@router.post("/webhooks/feedback")
async def generic_feedback(
    request: Request,
    signature: Annotated[str | None, Header(alias="X-Paperpost-Signature")] = None,
) -> JSONResponse:
    settings = _settings(request)
    try:
        body = await _body(request)
        providers.verify_generic(settings.webhook_secret, signature, body, time.time())
        events = providers.parse_generic(body)
    except providers.WebhookRejected as exc:
        return _rejected(exc)
    now = dt.datetime.now(dt.UTC)
    return _answer(pipeline.apply_feedback(request.app.state.factory, settings, events, now))


@router.post("/webhooks/ses")
async def ses_feedback(request: Request, fetch: Fetcher) -> JSONResponse:
    settings = _settings(request)
    try:
        message: dict[str, Any] = json.loads(await _body(request))
        if not isinstance(message, dict):
            raise providers.WebhookRejected("not an SNS message")
        providers.verify_sns(message, settings, fetch)
        if message.get("Type") == "SubscriptionConfirmation":
            providers.check_amazon_url(str(message.get("SubscribeURL", "")))
            fetch(str(message["SubscribeURL"]))
            return JSONResponse({"confirmed": True})
        if message.get("Type") != "Notification":
            return JSONResponse({"ignored": message.get("Type")})
        events = providers.parse_ses(message, settings)
    except ValueError as exc:
        rejected = (
            exc
            if isinstance(exc, providers.WebhookRejected)
            else providers.WebhookRejected(f"malformed body: {exc}")
        )
        return _rejected(rejected)
    now = dt.datetime.now(dt.UTC)
    return _answer(pipeline.apply_feedback(request.app.state.factory, settings, events, now))
