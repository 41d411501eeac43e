"""The SMTP relay misbehaving: F09 down for a while, F10 421 on 30 % of connections, F11 RCPT
4xx, F12 RCPT 550 5.1.1, F13 550 5.7.1 on everything (pause, resume), F14 AUTH 535, F15 the
reply to DATA lost, F16 a hang at EHLO."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from service.store.models import Delivery, DeliveryKind, Suppression
from tests.faults.harness import ROOT, ROWS, attempts, report, wait_until, world
from tests.faults.sink import Script


def victims(fraction: float, seed: int) -> set[str]:
    rng = random.Random(seed)
    return {f"reader{i:05d}@example.org" for i in range(ROWS) if rng.random() < fraction}


def test_f09_relay_down(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert wait_until(lambda: len(w.sink.arrivals) >= ROWS * 0.3, 120)
        w.smtp_proxy.cut()
        time.sleep(15)
        in_outage = attempts(w)
        w.smtp_proxy.restore()
        back = time.time()
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        report("F09", counts, after_return_s=round(time.time() - back, 1),
               max_attempts_in_outage=max(in_outage))  # fmt: skip
        assert "failed" not in counts.statuses
        assert max(in_outage) <= 6
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)


def test_f10_421_on_30_percent_of_connections(tmp_path: Path) -> None:
    rng = random.Random(10)
    script = Script(greet_421=lambda n: rng.random() < 0.3, messages_per_connection=50)
    with world(tmp_path, script) as w:
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        tries = attempts(w)
        mean = sum(k * v for k, v in tries.items()) / sum(tries.values())
        report("F10", counts, connections=w.sink.connections, refused=w.sink.refused_421,
               mean_attempts=round(mean, 3))  # fmt: skip
        assert counts.statuses == {"sent": ROWS} and counts.lost == 0
        assert mean <= 1.5
        # Each 421 closed its connection; every message went on a connection that greeted.
        assert w.sink.refused_421 >= 5  # enough reconnections to mean something
        assert w.sink.connections >= w.sink.refused_421 + ROWS // 50


def test_f11_rcpt_4xx_on_first_three_attempts(tmp_path: Path) -> None:
    deferred = victims(0.05, 11)

    def rcpt(address: str, attempt: int) -> str | None:
        if address in deferred and attempt <= 3:
            return "451 4.3.0 try again later" if attempt % 2 else "452 4.2.2 mailbox full"
        return None

    with world(tmp_path, Script(rcpt=rcpt)) as w:
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        report("F11", counts, deferred=len(deferred))
        assert counts.statuses == {"sent": ROWS} and counts.lost == 0
        emails = w.emails()
        for row in w.rows():
            assert row.attempts == (4 if emails[row.subscriber_id or 0] in deferred else 1)
        with w.factory() as session:
            assert session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_f12_rcpt_550_unknown_user(tmp_path: Path) -> None:
    from service import pipeline

    unknown = victims(0.01, 12)
    script = Script(rcpt=lambda a, n: "550 5.1.1 no such user" if a in unknown else None)
    with world(tmp_path, script) as w:
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(180), w.statuses()
        counts = w.counts(not_expected=unknown)
        failed = [r for r in w.rows() if r.status == "failed"]
        with w.factory() as session:
            suppressed = set(session.scalars(select(Suppression.email)))
        report("F12", counts, unknown=len(unknown))
        assert {(r.failure_reason, r.attempts) for r in failed} == {("bounced", 1)}
        assert len(failed) == len(unknown) and suppressed == unknown
        assert counts.lost == 0 and counts.statuses["sent"] == ROWS - len(unknown)
        tomorrow = pipeline.plan_editions(
            w.factory, w.settings, dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        )
        assert len(tomorrow.planned) == ROWS - len(unknown)  # nothing planned for them


def test_f13_policy_refusals_pause_then_resume(tmp_path: Path) -> None:
    refusing = {"on": True}
    script = Script(
        data=lambda a, n: "550 5.7.1 message refused by policy" if refusing["on"] else None
    )
    with world(tmp_path, script) as w:
        ids = w.seed(ROWS)
        w.env = {"PAPERPOST_ADMIN_EMAIL": "ops@paperpost.example"}
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert wait_until(lambda: _paused(w), 60)
        time.sleep(3)  # nothing more goes out while paused
        refused = sum(1 for r in w.rows() if r.last_smtp_code == 550)
        with w.factory() as session:
            suppressions = session.scalar(select(func.count()).select_from(Suppression))
            alerts = session.scalar(select(func.count()).select_from(Delivery)
                                    .where(Delivery.kind == DeliveryKind.alert))  # fmt: skip
        refusing["on"] = False
        resumed = subprocess.run([sys.executable, "-m", "service.cli", "deliveries", "resume"],
                                 cwd=ROOT, env=w.process_env(), capture_output=True, text=True)  # fmt: skip
        assert resumed.returncode == 0 and "resumed" in resumed.stdout
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        report("F13", counts, refused_before_pause=refused, alerts=alerts)
        assert 20 <= refused <= 20 + 2 * 2 * 2  # the budget, plus what was in flight
        assert suppressions == 0 and alerts == 1
        assert counts.lost == 0 and counts.statuses.get("failed", 0) == 0


def _paused(w: object) -> bool:
    from service.store import sending

    with w.factory() as session:  # type: ignore[attr-defined]
        return sending.current_pause(session) is not None


def test_f14_auth_refused(tmp_path: Path) -> None:
    with world(tmp_path, Script(auth_fails=True), auth=True) as w:
        ids = w.seed(ROWS)
        w.env = {"PAPERPOST_SMTP_USERNAME": "paperpost", "PAPERPOST_SMTP_PASSWORD": "wrong",
                 "PAPERPOST_ADMIN_EMAIL": "ops@paperpost.example"}  # fmt: skip
        started = time.time()
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert wait_until(lambda: _paused(w), 30)
        paused_s = round(time.time() - started, 1)
        time.sleep(4)
        counts = w.counts()
        report("F14", counts, connections=w.sink.connections, paused_s=paused_s)
        assert w.sink.connections <= 2  # one attempt per pool process, then the pause
        assert w.sink.arrivals == []
        assert "failed" not in counts.statuses and "skipped" not in counts.statuses
        with w.factory() as session:
            assert session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_f15_reply_to_data_lost(tmp_path: Path) -> None:
    slow = victims(0.02, 15)
    dropped = victims(0.02, 150) - slow  # one fault per row: at most one duplicate each
    script = Script(
        data_delay=lambda a: 2.0 if a in slow and once(a, "slow") else 0.0,
        drop_after_data=lambda a: a in dropped and once(a, "drop"),
    )
    with world(tmp_path, script) as w:
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        affected = slow | dropped
        by_rcpt = w.sink.ids_by_rcpt()
        ambiguous = {r.id for r in w.rows() if r.ambiguous}
        report("F15", counts, affected=len(affected), ambiguous=len(ambiguous))
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)
        assert counts.dup_raw <= len(affected)
        assert all(len(by_rcpt[a]) <= 2 for a in affected)
        assert len(ambiguous) >= len(affected) * 0.8  # each saw a timeout or a drop
        assert counts.statuses == {"sent": ROWS}


_seen: set[tuple[str, str]] = set()


def once(address: str, kind: str) -> bool:
    if (address, kind) in _seen:
        return False
    _seen.add((address, kind))
    return True


def test_f16_hang_at_ehlo(tmp_path: Path) -> None:
    script = Script(hang_ehlo=True)
    with world(tmp_path, script) as w:
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        time.sleep(10)
        script.hang_ehlo = False
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        log = w.log_text()
        report("F16", counts, hard_time_limits=log.count("TimeLimitExceeded"))
        assert "TimeLimitExceeded" not in log and "Hard time limit" not in log
        assert (counts.lost, counts.dup_raw, counts.stuck) == (0, 0, 0)
