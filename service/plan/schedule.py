"""Editions are keyed by the subscriber's local date (daily) or local ISO week (weekly),
computed at plan time in their time zone; a UTC key would drop or double digests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_GAP = dt.timedelta(hours=20)


@dataclass(frozen=True, slots=True)
class Schedule:
    timezone: str
    send_hour: int
    frequency: str  # daily | weekly
    weekday: int = 0  # Monday = 0
    paused_until: dt.datetime | None = None
    last_digest_at: dt.datetime | None = None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def edition_key(local: dt.datetime, frequency: str) -> str:
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.date().isoformat()


def due_edition(schedule: Schedule, now: dt.datetime) -> str | None:
    """The edition key whose send time has come at ``now``, or None if nothing is due."""
    if schedule.paused_until is not None and now < schedule.paused_until:
        return None
    if schedule.last_digest_at is not None and now - schedule.last_digest_at < MIN_GAP:
        return None
    local = now.astimezone(zone(schedule.timezone))
    if schedule.frequency == "weekly":
        reached = (local.weekday(), local.hour) >= (schedule.weekday, schedule.send_hour)
    else:
        reached = local.hour >= schedule.send_hour
    return edition_key(local, schedule.frequency) if reached else None


def edition_label(now: dt.datetime, timezone: str) -> str:
    local = now.astimezone(zone(timezone))
    return f"{local:%A} {local.day} {local:%B %Y}"
