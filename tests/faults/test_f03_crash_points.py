"""F03: deterministic crash points, 100 rows each. C1 (after the claim, before SMTP): re-sent
after the lease expires, no duplicate. C2 (after the 250, before the commit): exactly one raw
duplicate per crash, same Message-ID, the row ends sent. C3 (after the commit): no duplicate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import report, world

CRASHES = 3


@pytest.mark.parametrize("point", ["C1", "C2", "C3"])
def test_f03_crash_points(tmp_path: Path, point: str) -> None:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    for n in range(CRASHES):
        (tokens / f"token-{n}").touch()
    with world(tmp_path) as w:
        ids = w.seed(100)
        # One message in flight per process, so a C2 crash leaves exactly one unrecorded 250.
        w.env = {"PAPERPOST_CRASH_AT": point, "PAPERPOST_CRASH_AFTER": "2",
                 "PAPERPOST_CRASH_TOKENS": str(tokens), "PAPERPOST_SMTP_POOL_SIZE": "1"}  # fmt: skip
        w.start_worker()
        w.start_beat()
        w.enqueue(ids)
        assert w.wait_done(120), w.statuses()
        counts = w.counts()
        report(f"F03 {point}", counts)
        crashed = len(list(tokens.glob("taken-*")))
        assert crashed == CRASHES
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)
        assert counts.dup_raw == (CRASHES if point == "C2" else 0)
        assert counts.statuses == {"sent": 100}
