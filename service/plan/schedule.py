"""When a subscriber's editions fall due, in their own time zone.

A slot is one scheduled send: a local date (daily) or a local ISO week (weekly) and the instant
its local send hour begins. Edition keys are computed from the slot's *local* date at plan time,
so a digest is keyed the same on both sides of a daylight-saving change, and a UTC key never
folds two local days into one (Pacific/Auckland at 12:00: Saturday and Sunday share a UTC day).
"""

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


@dataclass(frozen=True, slots=True)
class Slot:
    key: str  # the edition key: "2026-09-27" or "2026-W39"
    at: dt.datetime  # when the local send hour began, in UTC


@dataclass(frozen=True, slots=True)
class Plan:
    """What the planner does for one subscriber now: plan ``due`` (or nothing), and record the
    ``missed`` older slots (newest first) as skipped."""

    due: Slot | None
    missed: tuple[Slot, ...] = ()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def edition_key(local: dt.datetime | dt.date, frequency: str) -> str:
    day = local.date() if isinstance(local, dt.datetime) else local
    if frequency == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def slot_on(schedule: Schedule, day: dt.date) -> Slot:
    """The slot of the given local day. A send hour that does not exist that day (the spring
    gap) resolves forward, as zoneinfo does with fold=0; an hour that repeats takes the first."""
    local = dt.datetime.combine(day, dt.time(schedule.send_hour), tzinfo=zone(schedule.timezone))
    return Slot(edition_key(day, schedule.frequency), local.astimezone(dt.UTC))


def latest_slot(schedule: Schedule, now: dt.datetime) -> Slot:
    """The most recent slot whose send time is at or before ``now``."""
    local_day = now.astimezone(zone(schedule.timezone)).date()
    step = 7 if schedule.frequency == "weekly" else 1
    if step == 7:
        local_day -= dt.timedelta(days=(local_day.weekday() - schedule.weekday) % 7)
    slot = slot_on(schedule, local_day)
    if slot.at > now:
        slot = slot_on(schedule, local_day - dt.timedelta(days=step))
    return slot


def slots_before(schedule: Schedule, slot: Slot, after: dt.datetime, limit: int) -> list[Slot]:
    """Up to ``limit`` slots earlier than ``slot`` and later than ``after``, newest first."""
    step = dt.timedelta(days=7 if schedule.frequency == "weekly" else 1)
    day = slot.at.astimezone(zone(schedule.timezone)).date()
    found: list[Slot] = []
    while len(found) < limit:
        day -= step
        earlier = slot_on(schedule, day)
        if earlier.at <= after:
            break
        found.append(earlier)
    return found


def plan_for(
    schedule: Schedule,
    now: dt.datetime,
    last_planned_at: dt.datetime | None,
    catch_up_limit: int = 14,
) -> Plan:
    """Decide for one subscriber. ``last_planned_at`` is when their latest digest row was
    created. After downtime only the newest slot is sent (late, once); the slots between it and
    the last planned digest are returned as missed. No two digests are less than 20 h apart:
    a slot that comes too soon after the last one waits until the gap has passed."""
    if schedule.paused_until is not None and now < schedule.paused_until:
        return Plan(None)
    slot = latest_slot(schedule, now)
    if last_planned_at is not None and slot.at <= last_planned_at:
        return Plan(None)
    previous = max(
        (t for t in (last_planned_at, schedule.last_digest_at) if t is not None), default=None
    )
    if previous is not None and now - previous < MIN_GAP:
        return Plan(None)
    missed: list[Slot] = []
    if last_planned_at is not None:  # slots inside a pause are not missed, only skipped over
        floor = max(last_planned_at, schedule.paused_until or last_planned_at)
        missed = slots_before(schedule, slot, floor, catch_up_limit)
    return Plan(slot, tuple(missed))


def due_edition(schedule: Schedule, now: dt.datetime) -> str | None:
    """The edition key whose send time has come at ``now``, or None if nothing is due."""
    plan = plan_for(schedule, now, None)
    return plan.due.key if plan.due else None


def edition_label(now: dt.datetime, timezone: str) -> str:
    local = now.astimezone(zone(timezone))
    return f"{local:%A} {local.day} {local:%B %Y}"
