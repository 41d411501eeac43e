"""The database: F17 PostgreSQL unreachable for 15 s mid-batch (no message leaves without a
committed claim), F18 SQLite with two workers of two processes claiming the same rows."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.faults.harness import ROWS, report, wait_until, world


def test_f17_database_down(tmp_path: Path) -> None:
    with world(tmp_path, pg_proxy=True) as w:
        assert w.pg_proxy is not None
        ids = w.seed(ROWS)
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert wait_until(lambda: len(w.sink.arrivals) >= ROWS * 0.3, 120)
        w.pg_proxy.cut()
        at_cut = len(w.sink.arrivals)
        time.sleep(15)
        during = len(w.sink.arrivals) - at_cut
        w.pg_proxy.restore()
        assert w.wait_done(180), w.statuses()
        counts = w.counts()
        report("F17", counts, sent_during_outage=during)
        # Only messages already claimed (and so committed) when the database went away can go.
        assert during <= 2 * 8
        claims = {r.message_id: r.attempts for r in w.rows()}
        sends = Counter(a.message_id for a in w.sink.arrivals)
        assert all(n <= claims[m] for m, n in sends.items())
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)


def test_f18_sqlite_contention(tmp_path: Path) -> None:
    with world(tmp_path, sqlite=True) as w:
        ids = w.seed(ROWS)
        w.start_worker("w1")
        w.start_worker("w2")
        w.start_beat()
        w.enqueue(ids)
        w.enqueue(ids)  # every row offered twice: only one claim may win
        assert w.wait_done(240), w.statuses()
        counts = w.counts()
        log = w.log_text()
        report("F18", counts, locked_errors=log.count("database is locked"))
        assert {r.attempts for r in w.rows()} == {1}  # one claim per row
        assert (counts.lost, counts.dup_raw, counts.dup_distinct, counts.stuck) == (0, 0, 0, 0)
        assert "database is locked" not in log
