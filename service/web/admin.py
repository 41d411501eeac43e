"""The admin JSON API under ``/api/``, behind ``Authorization: Bearer PAPERPOST_ADMIN_TOKEN``
(closed while the setting is empty). Subscribers, their interests, suppressions and stats; the
schema is published at ``/openapi.json`` and browsable at ``/docs``."""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.track import directory
from service.track.addresses import InvalidAddress
from service.track.events import UnknownSubscriber
from service.track.interests import check_interests
from service.track.subscription import SubscriptionRequest
from service.web.admin_schemas import (
    InterestIn,
    InterestOut,
    InterestsIn,
    Problem,
    Stats,
    Status,
    SubscriberIn,
    SubscriberOut,
    SubscriberPage,
    SubscriberPatch,
    SuppressionIn,
    SuppressionOut,
    SuppressionPage,
)
from service.web.deps import NowDep, SessionDep, SettingsDep

bearer = HTTPBearer(auto_error=False, description="PAPERPOST_ADMIN_TOKEN")


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    expected = settings.admin_token
    given = credentials.credentials if credentials else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        detail = "bearer token required" if expected else "admin API off: set PAPERPOST_ADMIN_TOKEN"
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a value the schema allows but paperpost refuses"},
    401: {"model": Problem, "description": "missing or wrong bearer token"},
    404: {"model": Problem, "description": "no such subscriber, interest or suppression"},
    409: {"model": Problem, "description": "conflicts with the stored state"},
}
router = APIRouter(
    prefix="/api", tags=["admin"], dependencies=[Depends(require_admin)], responses=ERRORS
)
SubscriberId = Annotated[int, Path(ge=1, le=2**31 - 1)]
After = Annotated[int, Query(ge=0, le=2**31 - 1, description="the last id of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]


def _out(record: directory.SubscriberRecord) -> SubscriberOut:
    return SubscriberOut.model_validate(asdict(record))


def _check(values: list[str]) -> None:
    problems = check_interests(values)
    if problems:
        first = problems[0]
        raise HTTPException(400, f"interest {first.line} ({first.text!r}): {first.message}")


def _not_found(exc: Exception) -> HTTPException:
    return HTTPException(404, str(exc))


@router.get("/subscribers", response_model=SubscriberPage)
def list_subscribers(
    session: SessionDep, status: Status | None = None, after: After = 0, limit: Limit = 100
) -> SubscriberPage:
    records = directory.list_subscribers(session, status, after, limit)
    items = [_out(r) for r in records]
    return SubscriberPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.post("/subscribers", response_model=SubscriberOut, status_code=201)
def create_subscriber(
    body: SubscriberIn, session: SessionDep, settings: SettingsDep, now: NowDep
) -> SubscriberOut:
    _check(body.interests)
    request = SubscriptionRequest(
        email=body.email, interests=tuple(dict.fromkeys(body.interests)),
        timezone=body.timezone, send_hour=body.send_hour, frequency=body.frequency,
        weekday=body.weekday, include_trending=body.include_trending,
    )  # fmt: skip
    try:
        record = directory.create_subscriber(session, settings, request, body.confirmed, now)
    except InvalidAddress as exc:
        raise HTTPException(400, str(exc)) from exc
    except directory.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    return _out(record)


@router.get("/subscribers/{subscriber_id}", response_model=SubscriberOut)
def get_subscriber(subscriber_id: SubscriberId, session: SessionDep) -> SubscriberOut:
    try:
        return _out(directory.get_subscriber(session, subscriber_id))
    except UnknownSubscriber as exc:
        raise _not_found(exc) from exc


@router.patch("/subscribers/{subscriber_id}", response_model=SubscriberOut)
def update_subscriber(
    subscriber_id: SubscriberId, body: SubscriberPatch, session: SessionDep, now: NowDep
) -> SubscriberOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True, exclude={"resume"})
    if body.resume:
        changes["paused_until"] = None
    try:
        return _out(directory.update_subscriber(session, subscriber_id, changes, now))
    except UnknownSubscriber as exc:
        raise _not_found(exc) from exc
    except directory.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc


@router.delete("/subscribers/{subscriber_id}", status_code=204)
def erase_subscriber(subscriber_id: SubscriberId, session: SessionDep, now: NowDep) -> Response:
    """Erase the person: everything about them is deleted, a suppression hash is kept."""
    try:
        directory.erase(session, subscriber_id, now)
    except UnknownSubscriber as exc:
        raise _not_found(exc) from exc
    return Response(status_code=204)


@router.get("/subscribers/{subscriber_id}/interests", response_model=list[InterestOut])
def list_interests(subscriber_id: SubscriberId, session: SessionDep) -> list[InterestOut]:
    return get_subscriber(subscriber_id, session).interests


@router.put("/subscribers/{subscriber_id}/interests", response_model=list[InterestOut])
def replace_interests(
    subscriber_id: SubscriberId, body: InterestsIn, session: SessionDep, now: NowDep
) -> list[InterestOut]:
    _check(body.values)
    try:
        record = directory.replace_interests(session, subscriber_id, body.values, now)
    except UnknownSubscriber as exc:
        raise _not_found(exc) from exc
    return _out(record).interests


@router.post("/subscribers/{subscriber_id}/interests", response_model=InterestOut, status_code=201)
def add_interest(
    subscriber_id: SubscriberId, body: InterestIn, session: SessionDep, now: NowDep
) -> InterestOut:
    _check([body.value])
    try:
        interest = directory.add_interest(session, subscriber_id, body.value, now)
    except UnknownSubscriber as exc:
        raise _not_found(exc) from exc
    except directory.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    return InterestOut.model_validate(asdict(interest))


@router.delete("/subscribers/{subscriber_id}/interests/{interest_id}", status_code=204)
def remove_interest(
    subscriber_id: SubscriberId,
    interest_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    now: NowDep,
) -> Response:
    try:
        directory.remove_interest(session, subscriber_id, interest_id, now)
    except UnknownSubscriber as exc:
        raise _not_found(exc) from exc
    return Response(status_code=204)


@router.get("/suppressions", response_model=SuppressionPage)
def list_suppressions(session: SessionDep, after: After = 0, limit: Limit = 100) -> SuppressionPage:
    items = [
        SuppressionOut.model_validate(asdict(r))
        for r in directory.list_suppressions(session, after, limit)
    ]
    return SuppressionPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def add_suppression(body: SuppressionIn, session: SessionDep, now: NowDep) -> SuppressionOut:
    try:
        record = directory.add_suppression(session, body.email, body.reason, body.note, now)
    except InvalidAddress as exc:
        raise HTTPException(400, str(exc)) from exc
    return SuppressionOut.model_validate(asdict(record))


@router.delete("/suppressions/{suppression_id}", status_code=204)
def remove_suppression(
    suppression_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, now: NowDep
) -> Response:
    if not directory.remove_suppression(session, suppression_id, now):
        raise HTTPException(404, f"no suppression {suppression_id}")
    return Response(status_code=204)


@router.get("/stats", response_model=Stats)
def stats(session: SessionDep, now: NowDep) -> Stats:
    return Stats.model_validate(directory.stats(session, now))
