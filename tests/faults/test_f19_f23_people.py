"""People and content: F19 one-click unsubscribes while a batch is sending, F20 suppressed
addresses, F21 bounce and complaint events replayed through the webhook, F22 a weekly schedule
across both daylight-saving changes, F23 a digest that can never be rendered."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from service import pipeline
from service.send.mailer import SmtpMailer
from service.store.db import transaction
from service.store.models import Subscriber, SubscriberStatus, Suppression
from service.track.events import suppress
from service.track.providers import sign_generic
from tests.faults.harness import (
    ROWS,
    children,
    cpu_seconds,
    report,
    seed_subscribers,
    wait_until,
    web_server,
    world,
)


def run_f19(tmp_path: Path, rows: int) -> None:
    from service.content import subscriber_links

    with world(tmp_path) as w:
        ids = w.seed(rows)
        with w.factory() as session:
            people = list(session.scalars(select(Subscriber)))
        leaving = random.Random(19).sample(people, 100)
        urls = {p.email: subscriber_links(w.settings, p).unsubscribe for p in leaving}
        w.start_worker()
        w.start_beat()
        answered: dict[str, float] = {}
        results: list[tuple[int, bool, float]] = []
        with web_server(w.settings) as base:
            w.enqueue(ids)
            assert wait_until(lambda: len(w.sink.arrivals) >= rows // 10, 120)
            with httpx.Client(timeout=10, follow_redirects=False) as client:
                for email, url in urls.items():
                    started = time.perf_counter()
                    response = client.post(url.replace("https://paperpost.example", base),
                                           data={"List-Unsubscribe": "One-Click"})  # fmt: skip
                    answered[email] = time.time()
                    results.append((response.status_code, "location" in response.headers,
                                    time.perf_counter() - started))  # fmt: skip
            assert w.wait_done(180), w.statuses()
        rows = {r.subscriber_id: r for r in w.rows()}
        late = [p.email for p in leaving
                if rows[p.id].status == "sent" and rows[p.id].claimed_at is not None
                and rows[p.id].claimed_at.timestamp() > answered[p.email]]  # fmt: skip
        p95 = statistics.quantiles([r[2] for r in results], n=20)[-1]
        counts = w.counts(not_expected=set(urls))
        report("F19", counts, late=len(late), post_p95_ms=round(p95 * 1000, 1))
        assert late == []
        assert {(code, redirected) for code, redirected, _ in results} == {(200, False)}
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)


def run_f20(tmp_path: Path, rows: int) -> None:
    with world(tmp_path) as w:
        ids = w.seed(rows)
        with transaction(w.factory) as session:
            people = list(session.scalars(select(Subscriber).order_by(Subscriber.id)))
            chosen = random.Random(20).sample(people, rows // 20)
            now = dt.datetime.now(dt.UTC)
            for n, person in enumerate(chosen):
                if n % 3 == 2:
                    session.execute(update(Subscriber).where(Subscriber.id == person.id)
                                    .values(status=SubscriberStatus.unsubscribed))  # fmt: skip
                else:
                    suppress(session, person.email, ("hard_bounce", "complaint")[n % 3], now)
        blocked = {p.email for p in chosen}
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(180), w.statuses()
        counts = w.counts(not_expected=blocked)
        reasons = Counter(r.failure_reason for r in w.rows() if r.status == "skipped")
        report("F20", counts, blocked=len(blocked), reasons=dict(reasons))
        assert not blocked & set(w.sink.ids_by_rcpt())
        assert counts.statuses == {"sent": rows - len(blocked), "skipped": len(blocked)}
        third = len(blocked) // 3
        assert reasons == {"suppressed": len(blocked) - third, "unsubscribed": third}
        assert counts.lost == 0


def test_f19_unsubscribe_mid_batch(tmp_path: Path) -> None:
    run_f19(tmp_path, ROWS)


@pytest.mark.slow
def test_f19_unsubscribe_mid_batch_10000(tmp_path: Path) -> None:
    run_f19(tmp_path, 10_000)


def test_f20_suppressed_addresses(tmp_path: Path) -> None:
    run_f20(tmp_path, ROWS)


@pytest.mark.slow
def test_f20_suppressed_addresses_10000(tmp_path: Path) -> None:
    run_f20(tmp_path, 10_000)


def test_f21_event_replay_through_the_webhook(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        seed_subscribers(w.factory, 3)
        settings = w.settings.model_copy(update={"webhook_secret": "hook"})
        soft, hard, complainer = (f"reader{i:05d}@example.org" for i in range(3))

        def post(client: httpx.Client, events: list[dict[str, str]]) -> dict[str, int]:
            body = json.dumps({"events": events}).encode()
            response = client.post("/webhooks/feedback", content=body, headers={
                "X-Paperpost-Signature": sign_generic("hook", body, int(time.time()))})  # fmt: skip
            assert response.status_code == 200
            return response.json()

        def state(email: str) -> tuple[str, int]:
            with w.factory() as session:
                person = session.scalar(select(Subscriber).where(Subscriber.email == email))
                assert person is not None
                return person.status, person.soft_bounces

        with web_server(settings) as base, httpx.Client(base_url=base, timeout=10) as client:
            for n in range(1, 7):
                event = {"id": f"s{n}", "type": "soft_bounce", "email": soft}
                assert post(client, [event])["accepted"] == 1
                assert post(client, [event]) == {"accepted": 0, "duplicates": 1}
                assert state(soft) == ("suppressed" if n == 6 else "active", n)
            for kind, email in (("hard_bounce", hard), ("complaint", complainer)):
                event = {"id": f"{kind}-1", "type": kind, "email": email}
                post(client, [event, event])
                assert state(email)[0] == "suppressed"
            reset = {"id": "d1", "type": "delivered", "email": soft}
            post(client, [reset])
        with w.factory() as session:
            reasons = dict(
                session.execute(select(Suppression.email, Suppression.reason)).tuples().all()
            )
        report("F21", w.counts())
        assert reasons == {soft: "soft_bounce", hard: "hard_bounce", complainer: "complaint"}
        assert state(soft)[1] == 0  # a delivery resets the count


def test_f22_weekly_across_dst_and_clock_jumps(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    with world(tmp_path) as w:
        seed_subscribers(w.factory, 5, timezone="Europe/Berlin", send_hour=9,
                         frequency="weekly", weekday=0)  # fmt: skip
        settings = w.settings.model_copy(update={"smtp_port": w.sink.port})
        planned_at: dict[int, dt.datetime] = {}
        for start in (
            dt.datetime(2026, 3, 20, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 16, tzinfo=dt.UTC),
        ):
            for step in range(4 * 24 * 18):
                now = start + dt.timedelta(minutes=15 * step)
                if step in (300, 900):
                    now -= dt.timedelta(hours=1)  # the clock is stepped back
                if step == 600:
                    now += dt.timedelta(hours=1)  # and forward
                planned = pipeline.plan_editions(w.factory, settings, now).planned
                for delivery_id in planned:
                    planned_at[delivery_id] = now
                if planned:
                    pipeline.deliver_batch(w.factory, settings, SmtpMailer(settings), planned,
                                           lambda n=now: n)  # fmt: skip
        rows = [r for r in w.rows() if r.status != "skipped"]  # skipped: the months between
        per_week = Counter((r.subscriber_id, r.edition_key) for r in rows)
        report("F22", w.counts(), editions=len(per_week))
        assert set(per_week.values()) == {1}
        weeks = sorted({k for _, k in per_week})
        assert weeks == ["2026-W12", "2026-W13", "2026-W14", "2026-W15",
                         "2026-W42", "2026-W43", "2026-W44", "2026-W45"]  # fmt: skip
        for row in rows:
            local = planned_at[row.id].astimezone(berlin)
            first = row.edition_key in ("2026-W12", "2026-W42")  # the catch-up of a new week
            assert first or (local.weekday(), local.hour) == (0, 9)
        arrivals = [a.message_id for a in w.sink.arrivals]
        assert len(arrivals) == len(set(arrivals)) == len(rows) == 5 * 8


def test_f23_poison_row(tmp_path: Path) -> None:
    poison = "reader00042@example.org"
    with world(tmp_path) as w:
        ids = w.seed(ROWS)
        worker = w.start_worker(PAPERPOST_POISON_RCPT=poison)
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(180), w.statuses()
        time.sleep(3)  # would a redelivery loop keep the worker busy?
        before = cpu_seconds([worker.pid, *children(worker.pid)])
        time.sleep(3)
        idle_cpu = cpu_seconds([worker.pid, *children(worker.pid)]) - before
        counts = w.counts(not_expected={poison})
        bad = next(r for r in w.rows() if r.status == "failed")
        report("F23", counts, poison_attempts=bad.attempts, idle_cpu_s_over_3s=round(idle_cpu, 2))
        assert (bad.failure_reason, bad.attempts <= 3) == ("poison", True)
        assert counts.statuses == {"sent": ROWS - 1, "failed": 1} and counts.lost == 0
