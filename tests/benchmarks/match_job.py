"""The PostgreSQL phase of bench_match: the real beat job on a throwaway database.

``run_job`` (in a child of the benchmark) builds the workload and loads it with COPY:
subscribers, interests, the run's papers (pending) and the next run's papers (parked outside
the match window). The job then runs in a process of its own,

    .venv/bin/python -m tests.benchmarks.match_job DATABASE_URL off|auto

so its peak memory is the job's alone: a first run in a fresh process (every interest parsed,
an empty ``matches`` table), then the next batch of papers, matched by the same process with
the first run's rows already in the table, as a beat worker runs it every time after its first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, text

from service import pipeline
from service.config import Settings
from service.match.compile import descriptions_of
from service.match.query import InterestSyntaxError, parse_interest
from service.match.semantic import Encoder, load_encoder, pack, paper_text, vector_key
from service.match.types import PaperDoc
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker
from service.store.models import Match
from tests.benchmarks.match_workload import NOW, Workload, build, next_batch
from tests.servers import throwaway_postgres

VECTORS = Path("/tmp/paperpost-bench-match-vectors.npz")
NEXT_VECTORS = Path("/tmp/paperpost-bench-match-next-vectors.npz")
PARKED = dt.timedelta(days=30)  # the next batch waits outside the 7-day window
_DAY = "2026-11-27 00:00:00"


def run_job(args: argparse.Namespace) -> dict[str, Any]:
    work = build(args.subscribers, args.papers, args.descriptions, args.seed)
    following = next_batch(work, args.papers)
    semantic = "off" if args.no_semantic else "auto"
    encoder = load_encoder(semantic)
    with throwaway_postgres() as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        _load(url, work, following, encoder)
        loaded = round(time.perf_counter() - started, 1)
        del work, following
        child = [sys.executable, "-m", "tests.benchmarks.match_job", url, semantic]
        output = subprocess.run(child, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        return {"load_s": loaded, "error": output.stderr[-2000:]}
    return {"load_s": loaded, **json.loads(output.stdout.strip().splitlines()[-1])}


def run_twice(url: str, semantic: str) -> dict[str, Any]:
    """The beat job twice in this process: the first run, then the next batch."""
    encoder = load_encoder(semantic)  # loaded once per worker, before any run
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url, secret_key="x" * 48, match_semantic=semantic
    )
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    before = _peak_mb()
    first = _timed(factory, settings, encoder)
    with engine.begin() as conn:  # the next batch arrives (not timed)
        conn.execute(
            text(
                "UPDATE papers SET published_at = published_at + :parked, "
                "ingested_at = ingested_at + :parked, updated_at = :now, match_pending = true "
                "WHERE ingested_at < :now - :parked / 2"
            ),
            {"parked": PARKED, "now": NOW.replace(tzinfo=None)},
        )
        conn.execute(text("ANALYZE"))
    second = _timed(factory, settings, encoder)
    with factory() as session:
        stored = session.scalar(select(func.count()).select_from(Match))
    engine.dispose()
    return {
        "first": first,
        "next": second,
        "rows_in_table": stored,
        "peak_mb_before_job": before,
        "peak_mb": _peak_mb(),
    }


def _timed(factory: Any, settings: Settings, encoder: Encoder | None) -> dict[str, Any]:
    started = time.perf_counter()
    report = pipeline.match_new_papers(factory, NOW, settings=settings, encoder=encoder)
    return {
        "job_s": round(time.perf_counter() - started, 1),
        "rows_written": report.matches,
        "report": dict(report.__dict__),
        "peak_mb": _peak_mb(),
    }


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _load(url: str, work: Workload, following: list[PaperDoc], encoder: Encoder | None) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    with cursor.copy(
        "COPY subscribers (id, email, status, timezone, send_hour, frequency, weekday, "
        "max_papers, include_trending, format, summary_style, token_secret, soft_bounces, "
        "created_at, updated_at) FROM STDIN"
    ) as copy:
        for sub in range(1, int(work.params["subscribers"]) + 1):  # type: ignore[call-overload]
            copy.write_row(
                (sub, f"s{sub}@example.org", "active", "UTC", 8, "daily", 0, 10, True, "html",
                 "abstract", f"{sub:032x}", 0, _DAY, _DAY)
            )  # fmt: skip
    with cursor.copy(
        "COPY papers (id, arxiv_id, title, summary, authors, categories, ai_keywords, upvotes, "
        "num_comments, sources, source_ids, published_at, ingested_at, updated_at, "
        "match_pending, enrich_attempts, embedding) FROM STDIN"
    ) as copy:
        batches = ((work.papers, VECTORS, dt.timedelta(0)), (following, NEXT_VECTORS, PARKED))
        for papers, cache, parked in batches:
            vectors = _paper_vectors(papers, encoder, cache)
            for paper, blob in zip(papers, vectors, strict=True):
                copy.write_row(_paper_row(paper, blob, parked))
    kinds = {v: _kind(v) for v in {v for _, v in work.interests}}
    with cursor.copy(
        "COPY interests (subscriber_id, kind, value, negated, weight, created_at, "
        "backfill_pending) FROM STDIN"
    ) as copy:
        for sub, value in work.interests:
            copy.write_row((sub, kinds[value], value, value.startswith("-"), 1.0, _DAY, False))
    if encoder is not None:
        texts = sorted(descriptions_of(v for v, k in kinds.items() if k == "text"))
        with cursor.copy("COPY text_vectors (key, vector, created_at) FROM STDIN") as copy:
            for text_, vector in zip(texts, encoder.encode(texts), strict=True):
                copy.write_row((vector_key(text_), pack(vector, text_), _DAY))
    raw.commit()
    cursor.execute("ANALYZE")
    raw.commit()
    raw.close()
    engine.dispose()


def _paper_row(paper: PaperDoc, blob: bytes | None, parked: dt.timedelta) -> tuple[Any, ...]:
    at = NOW.astimezone(dt.UTC).replace(tzinfo=None) - parked
    published = paper.published_at.replace(tzinfo=None) - parked if paper.published_at else None
    authors = json.dumps([{"name": a, "affiliations": []} for a in paper.authors])
    return (
        paper.id, paper.arxiv_id, paper.title, paper.summary, authors,
        json.dumps(list(paper.categories)), "[]", paper.upvotes, 0, '["file"]', "{}",
        published, at, at, not parked, 0, blob,
    )  # fmt: skip


def _paper_vectors(
    papers: Sequence[PaperDoc], encoder: Encoder | None, cache: Path
) -> list[bytes | None]:
    """Stored vectors, as ingestion computes them (cached between benchmark runs by text)."""
    if encoder is None:
        return [None] * len(papers)
    texts = [paper_text(p.title, p.summary) for p in papers]
    vectors = cached_vectors(cache, texts)
    if vectors is None:
        vectors = encoder.encode(texts)
        save_vectors(cache, texts, vectors)
    return [pack(v, t) for v, t in zip(vectors, texts, strict=True)]


def save_vectors(cache: Path, texts: Sequence[str], vectors: np.ndarray) -> None:
    np.savez(cache, vectors=vectors, digest=np.array(_digest(texts)))


def cached_vectors(cache: Path, texts: Sequence[str]) -> np.ndarray | None:
    """The vectors saved for exactly these texts, if any."""
    if not cache.exists():
        return None
    stored = np.load(cache)
    if "digest" not in stored or str(stored["digest"]) != _digest(texts):
        return None
    return np.asarray(stored["vectors"])


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha256("\x1e".join(texts).encode()).hexdigest()


def _kind(value: str) -> str:
    try:
        return parse_interest(value).kind
    except InterestSyntaxError:
        return "keyword"  # stored as typed; the job skips it


if __name__ == "__main__":
    print(json.dumps(run_twice(sys.argv[1], sys.argv[2])))
