"""The admin API's request and response bodies (they make the published OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.web.pages import timezones


def _clean(value: str) -> str:
    if "\x00" in value or any(ord(c) < 32 and c not in "\t" for c in value):
        raise ValueError("control characters are not allowed")
    return value


def _zone(value: str) -> str:
    if value not in timezones():
        raise ValueError("unknown time zone (use an IANA name such as Europe/Berlin)")
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-12-01T08:00:00Z")
    return value.astimezone(dt.UTC)


AwareTime = Annotated[dt.datetime, AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_clean)]
Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_clean)]
Zone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
Hour = Annotated[int, Field(ge=0, le=23)]
Weekday = Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
Papers = Annotated[int, Field(ge=1, le=50)]
Status = Literal["pending", "active", "unsubscribed", "suppressed"]
Frequency = Literal["daily", "weekly"]
Format = Literal["html", "text"]
SummaryStyle = Literal["abstract", "ai"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InterestOut(BaseModel):
    id: int
    value: str
    kind: str
    created_at: dt.datetime


class SubscriberOut(BaseModel):
    id: int
    email: str
    status: str
    timezone: str
    send_hour: int
    frequency: str
    weekday: int
    max_papers: int
    include_trending: bool
    format: str
    summary_style: str
    paused_until: dt.datetime | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    unsubscribed_at: dt.datetime | None
    last_digest_at: dt.datetime | None
    interests: list[InterestOut]


class SubscriberPage(BaseModel):
    items: list[SubscriberOut]
    next_after: int | None = Field(description="pass as ?after= for the next page")


class SubscriberIn(Strict):
    email: Email
    interests: list[Text] = Field(default_factory=list, max_length=25)
    timezone: Zone = "UTC"
    send_hour: Hour = 8
    frequency: Frequency = "daily"
    weekday: Weekday = 0
    include_trending: bool = True
    confirmed: bool = Field(
        default=False,
        description="true: the person already consented (active at once); "
        "false: pending, and a confirmation mail is sent",
    )


class SubscriberPatch(Strict):
    status: Status | None = None
    timezone: Zone | None = None
    send_hour: Hour | None = None
    frequency: Frequency | None = None
    weekday: Weekday | None = None
    max_papers: Papers | None = None
    include_trending: bool | None = None
    format: Format | None = None
    summary_style: SummaryStyle | None = None
    paused_until: AwareTime | None = Field(default=None, description="pause until this time")
    resume: bool = Field(default=False, description="clear a pause")


class InterestIn(Strict):
    value: Text


class InterestsIn(Strict):
    values: list[Text] = Field(max_length=25)


class SuppressionIn(Strict):
    email: Email
    reason: Literal["manual", "complaint", "hard_bounce", "unsubscribe"] = "manual"
    note: Annotated[str, Field(max_length=300), AfterValidator(_clean)] | None = None


class SuppressionOut(BaseModel):
    id: int
    email: str | None
    email_hash: str
    reason: str
    note: str | None
    created_at: dt.datetime


class SuppressionPage(BaseModel):
    items: list[SuppressionOut]
    next_after: int | None


class Stats(BaseModel):
    subscribers: dict[str, int]
    interests: int
    suppressions: dict[str, int]
    papers: int
    matches: int
    deliveries: dict[str, int]
    deliveries_last_24h: dict[str, int]
    events_last_24h: dict[str, int]


class Problem(BaseModel):
    detail: str
