"""The planner against a real database: one digest per subscriber per edition, papers fixed and
reserved in the same transaction, missed slots recorded, empty digests skipped or sent quiet."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryStatus,
    Match,
    Paper,
    SentPaper,
    Subscriber,
    SubscriberStatus,
)

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)  # Monday


def add_people(factory: Factory, n: int, **fields: object) -> list[int]:
    with transaction(factory) as session:
        people = [
            Subscriber(email=f"p{i}@example.org", status=SubscriberStatus.active,
                       send_hour=fields.get("send_hour", 8), timezone=fields.get("timezone", "UTC"),
                       frequency=fields.get("frequency", "daily"), weekday=fields.get("weekday", 0),
                       include_trending=False, max_papers=2, created_at=T0, updated_at=T0)
            for i in range(n)
        ]  # fmt: skip
        session.add_all(people)
        session.flush()
        return [p.id for p in people]


def add_matches(factory: Factory, people: list[int], papers: int) -> None:
    with transaction(factory) as session:
        rows = [Paper(arxiv_id=f"2609.{i:05d}", title=f"Paper {i}", authors=[], categories=[],
                      ai_keywords=[], sources=[], source_ids={}) for i in range(papers)]  # fmt: skip
        session.add_all(rows)
        session.flush()
        for sid in people:
            for rank, paper in enumerate(rows):
                session.add(Match(subscriber_id=sid, paper_id=paper.id, score=100 - rank,
                                  reasons=["kw"]))  # fmt: skip


def digests(factory: Factory) -> list[Delivery]:
    with factory() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_one_digest_per_edition_in_keyset_batches(factory: Factory, settings: Settings) -> None:
    people = add_people(factory, 7)
    add_matches(factory, people, 5)
    small = settings.model_copy(update={"plan_page_size": 3})
    first = pipeline.plan_editions(factory, small, T0)
    assert len(first.planned) == 7
    again = pipeline.plan_editions(factory, small, T0 + dt.timedelta(hours=2))
    assert again.planned == [] and again.existing == 0
    keys = Counter((d.subscriber_id, d.edition_key) for d in digests(factory))
    assert set(keys.values()) == {1} and len(keys) == 7


def test_papers_fixed_reserved_and_never_sent_twice(factory: Factory, settings: Settings) -> None:
    people = add_people(factory, 2)
    add_matches(factory, people, 5)
    day1 = pipeline.plan_editions(factory, settings, T0)
    day2 = pipeline.plan_editions(factory, settings, T0 + dt.timedelta(days=1))
    day3 = pipeline.plan_editions(factory, settings, T0 + dt.timedelta(days=2))
    rows = {d.id: d for d in digests(factory)}
    per_person: dict[int, list[int]] = {}
    for delivery_id in [*day1.planned, *day2.planned, *day3.planned]:
        d = rows[delivery_id]
        per_person.setdefault(d.subscriber_id or 0, []).extend(d.paper_ids)
    for papers in per_person.values():
        assert len(papers) == 5 and len(set(papers)) == 5  # 2 + 2 + 1, none twice
    assert day3.empty == 0 and len(day3.planned) == 2
    with factory() as session:
        assert session.scalar(select(SentPaper).limit(1)) is not None
        taken = session.scalars(select(Match.delivery_id)).all()
        assert None not in taken
    day4 = pipeline.plan_editions(factory, settings, T0 + dt.timedelta(days=3))
    assert day4.planned == [] and day4.empty == 2


def test_quiet_day_when_empty_digests_are_not_skipped(factory: Factory, settings: Settings) -> None:
    add_people(factory, 2)
    report = pipeline.plan_editions(
        factory, settings.model_copy(update={"skip_empty_digests": False}), T0
    )
    assert len(report.planned) == 2 and report.empty == 0
    assert {d.status for d in digests(factory)} == {DeliveryStatus.planned}


def test_downtime_sends_one_catch_up_and_records_missed(
    factory: Factory, settings: Settings
) -> None:
    people = add_people(factory, 1)
    add_matches(factory, people, 10)
    pipeline.plan_editions(factory, settings, T0)
    report = pipeline.plan_editions(factory, settings, T0 + dt.timedelta(days=4, hours=3))
    assert len(report.planned) == 1 and report.missed == 3
    rows = digests(factory)
    assert [(d.edition_key, d.status, d.failure_reason) for d in rows[1:]] == [
        ("2026-09-25", "planned", None),
        ("2026-09-24", "skipped", "missed"),
        ("2026-09-23", "skipped", "missed"),
        ("2026-09-22", "skipped", "missed"),
    ]


def test_weekly_berlin_across_dst_one_row_per_week(factory: Factory, settings: Settings) -> None:
    """F22 against the database: the planner runs every 30 minutes for three weeks around the
    end of summer time, with the clock jumping back an hour once."""
    add_people(factory, 3, timezone="Europe/Berlin", send_hour=9, frequency="weekly")
    quiet = settings.model_copy(update={"skip_empty_digests": False})
    start = dt.datetime(2026, 10, 15, 0, 0, tzinfo=dt.UTC)
    now = start
    for step in range(2 * 24 * 21):
        now = start + dt.timedelta(minutes=30 * step)
        if step == 500:
            now -= dt.timedelta(hours=1)  # the system clock is corrected backwards
        pipeline.plan_editions(factory, quiet, now)
    rows = digests(factory)
    per_week = Counter((d.subscriber_id, d.edition_key) for d in rows)
    assert set(per_week.values()) == {1}
    assert sorted({k for _, k in per_week}) == ["2026-W42", "2026-W43", "2026-W44", "2026-W45"]
    for d in rows[3:]:  # after the first (catch-up) edition, each is planned at 09:00 local
        local = d.created_at.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.weekday(), local.hour) == (0, 9)


def test_report_is_plain_data(factory: Factory, settings: Settings) -> None:
    add_people(factory, 1)
    report = pipeline.plan_editions(factory, settings, T0)
    assert dataclasses.asdict(report)["empty"] == 1


def test_each_page_is_handed_over_after_its_commit(factory: Factory, settings: Settings) -> None:
    """A worker enqueues every page as soon as it commits: sending starts while planning goes
    on, and no task can run before its rows exist."""
    people = add_people(factory, 7)
    add_matches(factory, people, 3)
    pages: list[list[int]] = []

    def enqueue(ids: list[int]) -> None:
        with factory() as other:  # a different connection sees the rows: they are committed
            found = other.scalars(select(Delivery.id).where(Delivery.id.in_(ids))).all()
        assert sorted(found) == sorted(ids)
        pages.append(ids)

    paged = settings.model_copy(update={"plan_page_size": 3})
    report = pipeline.plan_editions(factory, paged, T0, on_page=enqueue)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == report.planned
