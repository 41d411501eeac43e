"""Editions fall due at the subscriber's local hour, keyed by their local date or ISO week, on
both sides of daylight-saving changes and across time-zone changes (F22's pure half)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.plan.schedule import MIN_GAP, Schedule, latest_slot, plan_for

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def at(*args: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz).astimezone(UTC)


@pytest.mark.parametrize(
    ("timezone", "now", "key", "local_send"),
    [
        ("UTC", at(2026, 9, 27, 8, 0), "2026-09-27", (8, 0)),
        ("UTC", at(2026, 9, 27, 7, 59), "2026-09-26", (8, 0)),
        # Auckland at 12:00 local: Saturday and Sunday fall on the same UTC day.
        ("Pacific/Auckland", at(2026, 9, 26, 0, 0), "2026-09-26", (8, 0)),
        ("Pacific/Auckland", at(2026, 9, 26, 20, 0), "2026-09-27", (8, 0)),
        ("America/Los_Angeles", at(2026, 9, 27, 15, 0), "2026-09-27", (8, 0)),
    ],
)
def test_daily_keys_are_local_dates(
    timezone: str, now: dt.datetime, key: str, local_send: tuple[int, int]
) -> None:
    slot = latest_slot(Schedule(timezone, 8, "daily"), now)
    assert slot.key == key
    local = slot.at.astimezone(ZoneInfo(timezone))
    assert (local.hour, local.minute) == local_send


@pytest.mark.parametrize(
    "sunday",
    [dt.date(2026, 3, 29), dt.date(2026, 10, 25)],  # the last Sundays of March and October
)
def test_weekly_at_nine_berlin_across_dst(sunday: dt.date) -> None:
    """Every quarter hour for three weeks around the change: one edition per local ISO week,
    each due at 09:00 Berlin time on Monday."""
    schedule = Schedule("Europe/Berlin", 9, "weekly", weekday=0)
    start = dt.datetime.combine(sunday - dt.timedelta(days=10), dt.time(), UTC)
    planned: dict[str, dt.datetime] = {}
    last: dt.datetime | None = start  # the previous edition went out before the window
    for step in range(4 * 24 * 21):
        now = start + dt.timedelta(minutes=15 * step)
        plan = plan_for(schedule, now, last)
        if plan.due is not None:
            assert plan.due.key not in planned
            planned[plan.due.key] = plan.due.at
            last = now
    assert len(planned) == 3
    for key, when in planned.items():
        local = when.astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        year, week, _ = local.isocalendar()
        assert key == f"{year}-W{week:02d}"


def test_clock_jumps_back_an_hour_without_a_second_edition() -> None:
    schedule = Schedule("Europe/Berlin", 9, "daily")
    first = plan_for(schedule, at(2026, 10, 25, 9, 5, tz=BERLIN), None)
    assert first.due is not None
    planned_at = at(2026, 10, 25, 9, 5, tz=BERLIN)
    for jumped in (planned_at - dt.timedelta(hours=1), planned_at + dt.timedelta(hours=1)):
        assert plan_for(schedule, jumped, planned_at).due is None


def test_spring_gap_hour_sends_when_the_hour_exists() -> None:
    """02:00 does not exist in Berlin on 29 March 2026: the slot resolves to 03:00 CEST."""
    slot = latest_slot(Schedule("Europe/Berlin", 2, "daily"), at(2026, 3, 29, 12, 0))
    assert slot.key == "2026-03-29"
    assert slot.at == at(2026, 3, 29, 1, 0)


def test_time_zone_change_never_sends_two_digests_within_twenty_hours() -> None:
    """Sent at 08:00 UTC, then the subscriber moves to Tokyo (08:00 JST = 23:00 UTC): the next
    edition waits until 20 h have passed, then goes once, keyed by the Tokyo date."""
    sent = at(2026, 9, 27, 8, 0)
    tokyo = Schedule("Asia/Tokyo", 8, "daily", last_digest_at=sent)
    assert plan_for(tokyo, at(2026, 9, 27, 23, 30), sent).due is None
    later = plan_for(tokyo, sent + MIN_GAP, sent)
    assert later.due is not None and later.due.key == "2026-09-28"


def test_after_downtime_one_catch_up_and_missed_slots() -> None:
    schedule = Schedule("UTC", 8, "daily")
    last = at(2026, 9, 20, 8, 1)
    plan = plan_for(schedule, at(2026, 9, 24, 15, 0), last)
    assert plan.due is not None and plan.due.key == "2026-09-24"
    assert [m.key for m in plan.missed] == ["2026-09-23", "2026-09-22", "2026-09-21"]
    assert len(plan_for(schedule, at(2026, 12, 24, 15, 0), last, catch_up_limit=5).missed) == 5


def test_pause_plans_nothing_and_its_slots_are_not_missed() -> None:
    last = at(2026, 9, 20, 8, 1)
    paused = Schedule("UTC", 8, "daily", paused_until=at(2026, 9, 23, 0, 0))
    assert plan_for(paused, at(2026, 9, 22, 9, 0), last).due is None
    after = plan_for(paused, at(2026, 9, 24, 9, 0), last)
    assert after.due is not None and [m.key for m in after.missed] == ["2026-09-23"]
