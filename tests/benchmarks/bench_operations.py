"""Operations: subscriber CSV import, the cost of a /metrics scrape on a large ledger, and the
resident memory of the long-running processes (for deploy/README.md's sizing).

    .venv/bin/python -m tests.benchmarks.bench_operations [--rows N] [--baseline N]
        [--deliveries N] [--backend sqlite|postgresql] [--skip-memory] [--json]

- import: ``--rows`` CSV rows checked (parse) and applied in one transaction, then the same
  file again (idempotent: read and compare only); baseline: one transaction per row, as a
  loop over ``subscribers add`` would do, on ``--baseline`` rows; reported as rows per second
  and the ratio batched / per-row.
- scrape: ``--deliveries`` finished deliveries spread over 180 days plus events; the gauges'
  snapshot (uncached) against a baseline full scan ``SELECT status, count(*) ... GROUP BY``
  of the same table, as a ratio: the snapshot reads index ranges, so it must not grow with
  the ledger.
- memory: ``paperpost worker --concurrency 2`` (on a private Redis broker) and
  ``paperpost web`` started for real; the resident set size of each process tree once ready.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from service.config import Settings
from service.observability.gauges import take_snapshot
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, Event
from service.track import operator
from service.track.csvfile import read_rows, write_rows
from tests.servers import free_port, private_redis, throwaway_postgres

ROOT = Path(__file__).resolve().parents[2]
FULL_SCAN = text("SELECT status, count(*) FROM deliveries GROUP BY status")
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
INTERESTS = ["diffusion", '"vision transformer"', "cat:cs.CV", "mamba OR \"state space\"",
             'author:"Kaiming He"', "recommender -survey"]  # fmt: skip


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        with throwaway_postgres() as url:
            migrate.upgrade(url)
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite"
            migrate.upgrade(url)
            yield url


def csv_text(rows: int, offset: int = 0) -> str:
    out = io.StringIO()
    write_rows(
        ({"email": f"reader{n}@example.org", "interests": INTERESTS[n % 6: n % 6 + 2],
          "timezone": ("UTC", "Europe/Berlin", "America/New_York")[n % 3], "hour": n % 24,
          "frequency": "daily" if n % 5 else "weekly", "weekday": n % 7,
          "status": "active" if n % 4 else "pending"} for n in range(offset, offset + rows)),
        out,
    )  # fmt: skip
    return out.getvalue()


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def bench_import(backend: str, rows: int, baseline: int) -> dict[str, Any]:
    body = csv_text(rows)
    parse_s, (parsed, problems) = timed(lambda: read_rows(body))
    assert not problems, problems[:3]
    with database(backend) as url:
        factory = make_sessionmaker(make_engine(url))

        def apply() -> operator.ImportReport:
            report = operator.ImportReport()
            with transaction(factory) as session:
                for start in range(0, len(parsed), 500):
                    operator.import_rows(session, parsed[start : start + 500], NOW, report)
            return report

        first_s, first = timed(apply)
        again_s, again = timed(apply)
        assert first.created == rows and again.unchanged == rows
        few, _ = read_rows(csv_text(baseline, offset=rows))

        def one_by_one() -> None:
            for row in few:
                with transaction(factory) as session:
                    operator.import_rows(session, [row], NOW, operator.ImportReport())

        base_s, _ = timed(one_by_one)
    batched = rows / first_s
    per_row = baseline / base_s
    return {
        "backend": backend, "rows": rows, "parse_rows_per_s": round(rows / parse_s),
        "import_rows_per_s": round(batched), "again_rows_per_s": round(rows / again_s),
        "baseline_rows_per_s": round(per_row), "ratio_batched_over_per_row": round(batched / per_row, 2),
    }  # fmt: skip


def seed_ledger(url: str, deliveries: int) -> None:
    engine = make_engine(url)
    statuses = ("sent",) * 17 + ("failed", "skipped", "sent")
    with engine.begin() as conn:
        for start in range(0, deliveries, 10_000):
            conn.execute(insert(Delivery), [
                {"kind": "digest", "edition_key": f"e{n}", "to_address": f"r{n}@example.org",
                 "status": statuses[n % 20], "message_id": f"m{n}@bench",
                 "next_attempt_at": NOW - dt.timedelta(minutes=n * 180 * 1440 // deliveries),
                 "created_at": NOW, "paper_ids": [], "trending_ids": [], "payload": {}}
                for n in range(start, min(deliveries, start + 10_000))
            ])  # fmt: skip
        conn.execute(insert(Event), [
            {"kind": ("hard_bounce", "complaint", "preferences")[n % 3], "source": "bench",
             "detail": {}, "consent": False,
             "created_at": NOW - dt.timedelta(minutes=n * 180 * 1440 // (deliveries // 4))}
            for n in range(deliveries // 4)
        ])  # fmt: skip
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    engine.dispose()


def bench_scrape(backend: str, deliveries: int, repeat: int = 15) -> dict[str, Any]:
    with database(backend) as url:
        seed_ledger(url, deliveries)
        factory = make_sessionmaker(make_engine(url))
        settings = Settings(_env_file=None, database_url=url, secret_key="b" * 48)  # type: ignore[call-arg]
        snaps, scans = [], []
        for _ in range(repeat):
            with factory() as session, session.begin():
                snaps.append(timed(lambda s=session: take_snapshot(s, settings, NOW))[0])
            with factory() as session:
                scans.append(timed(lambda s=session: s.execute(FULL_SCAN).all())[0])
    snap, scan = statistics.median(snaps), statistics.median(scans)
    return {"backend": backend, "deliveries": deliveries, "snapshot_ms": round(snap * 1000, 1),
            "full_scan_ms": round(scan * 1000, 1), "ratio_snapshot_over_scan": round(snap / scan, 3)}  # fmt: skip


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total, queue = 0, [pid]
    while queue:
        current = queue.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            )
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        queue += [int(c) for c in children]
    return total


def bench_memory() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, private_redis() as broker:
        url = f"sqlite:///{tmp}/mem.sqlite"
        migrate.upgrade(url)
        env = {**os.environ, "PAPERPOST_DATABASE_URL": url, "PAPERPOST_SECRET_KEY": "m" * 48,
               "PAPERPOST_BROKER_URL": broker}  # fmt: skip
        port = free_port()
        cli = [sys.executable, "-m", "service.cli"]
        procs = {
            "worker (2 processes)": subprocess.Popen([*cli, "worker", "--concurrency", "2"], env=env, cwd=ROOT,
                                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
            "web": subprocess.Popen([*cli, "web", "--port", str(port)], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        }  # fmt: skip
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            time.sleep(8)  # the worker's pool is up well before this
            return {name: round(rss_kib(p.pid) / 1024) for name, p in procs.items()}
        finally:
            for p in procs.values():
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=60)


MODEL_RSS = """
import re, sys
from pathlib import Path
def rss(): return int(re.search(r"VmRSS:\\s+(\\d+)", Path("/proc/self/status").read_text())[1])
import service.pipeline
from service.match.semantic import load_encoder
before = rss()
encoder = load_encoder("on")
encoder.encode(["diffusion models for video generation"])
print(before, rss())
"""


def bench_model_memory() -> dict[str, int]:
    """A process that matches descriptions by meaning loads the sentence model once."""
    done = subprocess.run([sys.executable, "-c", MODEL_RSS], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    before, after = (int(n) // 1024 for n in done.stdout.split()[-2:])
    return {"process before the model": before, "with the sentence model": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--baseline", type=int, default=500)
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"import": [], "scrape": []}
    for backend in args.backend or ["sqlite", "postgresql"]:
        results["import"].append(bench_import(backend, args.rows, args.baseline))
        results["scrape"].append(bench_scrape(backend, args.deliveries))
    if not args.skip_memory:
        results["memory_mib"] = {**bench_memory(), **bench_model_memory()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
