"""Worker processes dying: F01 kill -9 of the whole worker at 20 %, 50 % and 80 %; F02 kill -9
of pool children (with task_reject_on_worker_lost, and the negative control without it); F04
SIGTERM (warm shutdown) halfway."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from service.config import Settings
from tests.faults.harness import ROWS, children, report, wait_until, world

# pool processes x pooled SMTP connections each (each waits for its last message's commit)
IN_FLIGHT = 2 * Settings.model_fields["smtp_pool_size"].default


def run_f01(tmp_path: Path, rows: int) -> None:
    with world(tmp_path) as w:
        ids = w.seed(rows)
        worker = w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        for fraction in (0.2, 0.5, 0.8):
            assert wait_until(lambda f=fraction: len(w.sink.arrivals) >= f * rows, 180)
            w.kill(worker)
            time.sleep(5)
            worker = w.start_worker()
        restarted = time.time()
        assert w.wait_done(60 + 100), w.statuses()
        counts = w.counts()
        report("F01", counts, recovered_s=round(time.time() - restarted, 1))
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)
        assert counts.dup_raw <= IN_FLIGHT * 3
        sent = {r.message_id for r in w.rows() if r.status == "sent"}
        duplicated = {m for ids_ in w.sink.ids_by_rcpt().values() for m in ids_
                      if ids_.count(m) > 1}  # fmt: skip
        assert duplicated <= sent


def test_f01_kill_worker_main_process(tmp_path: Path) -> None:
    run_f01(tmp_path, ROWS)


@pytest.mark.slow
def test_f01_kill_worker_main_process_10000(tmp_path: Path) -> None:
    run_f01(tmp_path, 10_000)


@pytest.mark.parametrize("reject_on_lost", ["1", "0"], ids=["requeued", "negative-control"])
def test_f02_kill_pool_child(tmp_path: Path, reject_on_lost: str) -> None:
    with world(tmp_path) as w:
        ids = w.seed(ROWS)
        worker = w.start_worker(PAPERPOST_FAULT_REJECT_ON_LOST=reject_on_lost)
        w.start_beat()
        w.enqueue(ids)
        killed = 0
        while killed < 10 and len(w.sink.arrivals) < 0.9 * ROWS:
            assert wait_until(lambda k=killed: len(w.sink.arrivals) >= (k + 1) * ROWS // 12, 120)
            pool = children(worker.pid)
            if pool:
                os.kill(pool[0], signal.SIGKILL)
                killed += 1
        assert w.wait_done(120), w.statuses()
        counts = w.counts()
        report(f"F02 reject_on_worker_lost={reject_on_lost}", counts, kills=killed)
        assert killed >= 5
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)
        assert counts.dup_raw <= killed * 2


def test_f04_sigterm_warm_shutdown(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        ids = w.seed(ROWS)
        worker = w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert wait_until(lambda: len(w.sink.arrivals) >= ROWS // 2, 120)
        asked = time.time()
        worker.send_signal(signal.SIGTERM)
        worker.wait(5 + 6 + 30)  # soft shutdown + task time limit, and a margin for the noise
        exited_s = round(time.time() - asked, 1)
        w.start_worker("w2")
        assert w.wait_done(120), w.statuses()
        counts = w.counts()
        report("F04", counts, exit_s=exited_s)
        assert (counts.lost, counts.dup_raw, counts.dup_distinct, counts.stuck) == (0, 0, 0, 0)
