"""Parse and upsert 50,000 papers into SQLite and PostgreSQL, against a per-row baseline.

    .venv/bin/python -m tests.benchmarks.bench_ingest [--papers N] [--backend sqlite|postgresql]
                                                      [--baseline N] [--json]

The papers are built from the shared samples: half HF Daily Papers items (both eras), 40 %
arXiv API entries, 10 % announcement-feed items, each copy with its own arXiv id, serialised
into one HF JSON body, one Atom body and one RSS body, exactly as the sources answer.

Phases, each on a fresh database of the backend:

- parse: the three bodies through the real parsers (per CPU-second and per wall second);
- upsert new: every paper into an empty table, one transaction per source body, as a run does;
- upsert again: the same papers once more (nothing changes: read and compare only);
- upsert moved: the HF papers with new upvote counts (updates);
- end to end: parse + upsert new, papers per wall second;
- baseline: a per-row upsert (one SELECT, then one INSERT or UPDATE per paper, as an ORM
  ``merge`` loop does) on ``--baseline`` papers, reported as the ratio batched / per-row.

Peak memory: the child process's peak RSS (payloads included), and the tracemalloc peak of
parse + upsert in a separate, untimed pass. Each backend runs in its own child process so the
peaks do not mix. Upserts hit the database over its normal connection (PostgreSQL on
127.0.0.1, SQLite on a file with WAL), so the figures are wall-clock, on a shared machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from service.ingest import arxiv, hf, rss
from service.ingest.model import ParseResult, RawPaper
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Base, Paper
from service.store.papers import upsert_papers

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


# Payloads built from the samples ---------------------------------------------------------


def hf_body(count: int, month: int) -> bytes:
    items = [
        *json.loads((SAMPLES / "hf_daily_papers_2025-09-12.json").read_bytes()),
        *json.loads((SAMPLES / "hf_daily_papers_2024-05-29.json").read_bytes()),
    ]
    out = []
    for i in range(count):
        item = json.loads(json.dumps(items[i % len(items)]))
        item["paper"]["id"] = f"26{month:02d}.{i:05d}"
        out.append(item)
    return json.dumps(out).encode()


def _xml_parts(text: str, tag: str) -> tuple[str, list[str], str]:
    """(what comes before the first item, the items, what comes after the last)."""
    found = list(re.finditer(rf"<{tag}>.*?</{tag}>", text, re.DOTALL))
    return text[: found[0].start()], [m[0] for m in found], text[found[-1].end() :]


def arxiv_body(count: int, month: int) -> bytes:
    text = (SAMPLES / "arxiv_api_search_testing_start0_max10.xml").read_text()
    head, entries, tail = _xml_parts(text, "entry")
    out = [head]
    for i in range(count):
        new_id = f"http://arxiv.org/abs/26{month:02d}.{i:05d}v1"
        out.append(
            re.sub(r"<id>[^<]+</id>", f"<id>{new_id}</id>", entries[i % len(entries)], count=1)
        )
    return "".join([*out, tail]).encode()


def rss_body(count: int, month: int) -> bytes:
    text = (SAMPLES / "arxiv_rss_2026-09-24_excerpt.xml").read_text()
    head, items, tail = _xml_parts(text, "item")
    new = [i for i in items if "<arxiv:announce_type>new<" in i]
    out = [head]
    for i in range(count):
        paper_id = f"26{month:02d}.{i:05d}"
        item = re.sub(r"\d{4}\.\d{5}", paper_id, new[i % len(new)])
        out.append(item)
    return "".join([*out, tail]).encode()


def payloads(total: int) -> list[tuple[str, bytes, Callable[[bytes], ParseResult]]]:
    n_hf, n_arxiv = total // 2, total * 2 // 5
    n_rss = total - n_hf - n_arxiv
    return [
        ("hf", hf_body(n_hf, 1), hf.parse),
        ("arxiv", arxiv_body(n_arxiv, 2), arxiv.parse),
        ("rss", rss_body(n_rss, 3), rss.parse),
    ]


# Databases -------------------------------------------------------------------------------


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        from tests.servers import throwaway_postgres

        with throwaway_postgres() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.sqlite"


@contextmanager
def fresh_factory(backend: str) -> Iterator[Any]:
    with database(backend) as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        try:
            yield make_sessionmaker(engine)
        finally:
            engine.dispose()


# Phases ----------------------------------------------------------------------------------


def parse_all(
    bodies: list[tuple[str, bytes, Callable[[bytes], ParseResult]]],
) -> list[list[RawPaper]]:
    parsed = []
    for name, body, parse in bodies:
        result = parse(body)
        if result.errors:
            raise SystemExit(f"{name}: {result.errors[:3]}")
        parsed.append(result.papers)
    return parsed


def upsert_all(
    factory: Any, batches: list[list[RawPaper]], now: dt.datetime
) -> tuple[int, int, int]:
    new = updated = unchanged = 0
    for batch in batches:
        with transaction(factory) as session:
            result = upsert_papers(session, batch, now)
        new, updated, unchanged = (
            new + result.new,
            updated + result.updated,
            unchanged + result.unchanged,
        )
    return new, updated, unchanged


def per_row_upsert(factory: Any, papers: list[RawPaper], now: dt.datetime) -> None:
    """The baseline: what a straightforward ORM loop does, one paper at a time."""
    fields = ("title", "summary", "upvotes", "num_comments", "version", "published_at")
    with transaction(factory) as session:
        for paper in papers:
            row = session.scalar(select(Paper).where(Paper.arxiv_id == paper.arxiv_id))
            if row is None:
                row = Paper(arxiv_id=paper.arxiv_id, title=paper.title, summary=paper.summary,
                            authors=[{"name": a.name, "affiliations": list(a.affiliations)}
                                     for a in paper.authors],
                            categories=list(paper.categories), sources=[paper.source],
                            source_ids={}, ai_keywords=list(paper.ai_keywords),
                            ingested_at=now, updated_at=now)  # fmt: skip
                session.add(row)
            for name in fields:
                value = getattr(paper, name)
                if value is not None:
                    setattr(row, name, value)
            session.flush()


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def run_backend(backend: str, total: int, baseline: int) -> dict[str, Any]:
    bodies = payloads(total)
    batches, parse_wall, parse_cpu = timed(lambda: parse_all(bodies))
    count = sum(len(b) for b in batches)
    figures: dict[str, Any] = {
        "backend": backend, "papers": count,
        "payload_mb": round(sum(len(b) for _, b, _ in bodies) / 1e6, 1),
        "parse_per_s": round(count / parse_wall), "parse_per_cpu_s": round(count / parse_cpu),
    }  # fmt: skip
    with fresh_factory(backend) as factory:
        server_before = server_cpu(factory)
        (new, _, _), up_wall, up_cpu = timed(lambda: upsert_all(factory, batches, NOW))
        up_server = _delta(server_before, server_cpu(factory))
        assert new == count, (new, count)
        (_, _, same), again_wall, _ = timed(lambda: upsert_all(factory, batches, NOW))
        assert same == count
        moved = [[dataclasses.replace(p, upvotes=(p.upvotes or 0) + 1) for p in batches[0]]]
        (_, changed, _), moved_wall, _ = timed(lambda: upsert_all(factory, moved, NOW))
        assert changed == len(moved[0])
    with fresh_factory(backend) as factory:
        sample = [p for batch in batches for p in batch][:baseline]
        _, base_wall, _ = timed(lambda: per_row_upsert(factory, sample, NOW))
    figures.update(
        upsert_new_per_s=round(count / up_wall),
        upsert_new_per_cpu_s=round(count / (up_cpu + up_server)),
        upsert_new_server_cpu_share=round(up_server / (up_cpu + up_server), 2),
        end_to_end_per_cpu_s=round(count / (parse_cpu + up_cpu + up_server)),
        upsert_unchanged_per_s=round(count / again_wall),
        upsert_moved_per_s=round(len(moved[0]) / moved_wall),
        end_to_end_per_s=round(count / (parse_wall + up_wall)),
        baseline_papers=len(sample),
        baseline_per_row_per_s=round(len(sample) / base_wall),
    )
    figures["batched_vs_per_row"] = round(
        figures["upsert_new_per_s"] / figures["baseline_per_row_per_s"], 1
    )
    figures["tracemalloc_peak_mb"] = memory_pass(backend, bodies)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def server_cpu(factory: Any) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving this database, read from
    /proc (the server runs on this machine); empty for SQLite, which runs in this process."""
    with factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            return {}
        pids = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return used


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def memory_pass(
    backend: str, bodies: list[tuple[str, bytes, Callable[[bytes], ParseResult]]]
) -> float:
    """Python allocations of parse + upsert new, untimed (tracemalloc slows everything)."""
    with fresh_factory(backend) as factory:
        tracemalloc.start()
        upsert_all(factory, parse_all(bodies), NOW)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return round(peak / 2**20, 1)


# Entry point -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_backend(args.backend, args.papers, args.baseline)))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [_child(b, args.papers, args.baseline) for b in backends]
    print(json.dumps(results, indent=2) if args.json else "\n\n".join(map(_table, results)))


def _child(backend: str, papers: int, baseline: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.benchmarks.bench_ingest", "--child",
               "--backend", backend, "--papers", str(papers), "--baseline", str(baseline)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend}: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _table(f: dict[str, Any]) -> str:
    rows = [
        ("papers", f"{f['papers']:,} ({f['payload_mb']} MB of HF JSON, Atom and RSS)"),
        ("parse", f"{f['parse_per_s']:,}/s wall, {f['parse_per_cpu_s']:,}/CPU-s"),
        (
            "upsert, new",
            f"{f['upsert_new_per_s']:,}/s wall, {f['upsert_new_per_cpu_s']:,}/CPU-s "
            f"(database server {f['upsert_new_server_cpu_share']:.0%} of it)",
        ),
        ("upsert, unchanged", f"{f['upsert_unchanged_per_s']:,}/s"),
        ("upsert, upvotes moved", f"{f['upsert_moved_per_s']:,}/s"),
        (
            "parse + upsert new",
            f"{f['end_to_end_per_s']:,}/s wall, {f['end_to_end_per_cpu_s']:,}/CPU-s",
        ),
        ("per-row baseline", f"{f['baseline_per_row_per_s']:,}/s on {f['baseline_papers']:,}"),
        ("batched / per-row", f"{f['batched_vs_per_row']}x"),
        ("peak memory", f"{f['peak_rss_mb']} MB RSS, {f['tracemalloc_peak_mb']} MB traced"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join([f"== {f['backend']}", *(f"{n:<{width}}  {v}" for n, v in rows)])


if __name__ == "__main__":
    main()
