"""The PostgreSQL phase of bench_match: the real beat job on a throwaway database."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from service import pipeline
from service.config import Settings
from service.match.compile import descriptions_of
from service.match.query import InterestSyntaxError, parse_interest
from service.match.semantic import load_encoder, pack, paper_text, vector_key
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker
from service.store.models import Match
from tests.benchmarks.match_workload import NOW, Workload, build
from tests.servers import throwaway_postgres

VECTORS = Path("/tmp/paperpost-bench-match-vectors.npz")
_DAY = "2026-11-27 00:00:00"


def run_job(args: argparse.Namespace) -> dict[str, Any]:
    work = build(args.subscribers, args.papers, args.descriptions, args.seed)
    encoder = None if args.no_semantic else load_encoder("auto")
    with throwaway_postgres() as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        _load(url, work, encoder)
        loaded = time.perf_counter() - started
        semantic = "off" if args.no_semantic else "auto"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=url, secret_key="x" * 48, match_semantic=semantic
        )
        factory = make_sessionmaker(make_engine(url))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        started = time.perf_counter()
        report = pipeline.match_new_papers(factory, NOW, settings=settings, encoder=encoder)
        elapsed = time.perf_counter() - started
        with factory() as session:
            stored = session.scalar(select(func.count()).select_from(Match))
        factory.kw["bind"].dispose()
    return {
        "load_s": round(loaded, 1),
        "job_s": round(elapsed, 1),
        "rows_written": report.matches,
        "rows_in_table": stored,
        "report": {k: v for k, v in report.__dict__.items()},
        "peak_mb_before_job": before,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _load(url: str, work: Workload, encoder: object) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    stamp = NOW.astimezone(dt.UTC).replace(tzinfo=None)
    with cursor.copy(
        "COPY subscribers (id, email, status, timezone, send_hour, frequency, weekday, "
        "max_papers, include_trending, format, summary_style, token_secret, soft_bounces, "
        "created_at, updated_at) FROM STDIN"
    ) as copy:
        for sub in range(1, int(work.params["subscribers"]) + 1):  # type: ignore[call-overload]
            copy.write_row(
                (
                    sub,
                    f"s{sub}@example.org",
                    "active",
                    "UTC",
                    8,
                    "daily",
                    0,
                    10,
                    True,
                    "html",
                    "abstract",
                    f"{sub:032x}",
                    0,
                    _DAY,
                    _DAY,
                )
            )
    vectors = _paper_vectors(work, encoder)
    with cursor.copy(
        "COPY papers (id, arxiv_id, title, summary, authors, categories, ai_keywords, upvotes, "
        "num_comments, sources, source_ids, published_at, ingested_at, updated_at, "
        "match_pending, enrich_attempts, embedding) FROM STDIN"
    ) as copy:
        for paper, blob in zip(work.papers, vectors, strict=True):
            authors = json.dumps([{"name": a, "affiliations": []} for a in paper.authors])
            copy.write_row(
                (
                    paper.id,
                    paper.arxiv_id,
                    paper.title,
                    paper.summary,
                    authors,
                    json.dumps(list(paper.categories)),
                    "[]",
                    paper.upvotes,
                    0,
                    '["file"]',
                    "{}",
                    paper.published_at.replace(tzinfo=None) if paper.published_at else None,
                    stamp,
                    stamp,
                    True,
                    0,
                    blob,
                )
            )
    kinds = {v: _kind(v) for v in {v for _, v in work.interests}}
    with cursor.copy(
        "COPY interests (subscriber_id, kind, value, negated, weight, created_at, backfill_pending) FROM STDIN"
    ) as copy:
        for sub, value in work.interests:
            copy.write_row((sub, kinds[value], value, value.startswith("-"), 1.0, _DAY, False))
    if encoder is not None:
        texts = sorted(descriptions_of(v for v, k in kinds.items() if k == "text"))
        with cursor.copy("COPY text_vectors (key, vector, created_at) FROM STDIN") as copy:
            for text, vector in zip(texts, encoder.encode(texts), strict=True):  # type: ignore[attr-defined]
                copy.write_row((vector_key(text), pack(vector, text), _DAY))
    raw.commit()
    cursor.execute("ANALYZE")
    raw.commit()
    raw.close()
    engine.dispose()


def _paper_vectors(work: Workload, encoder: object) -> list[bytes | None]:
    if encoder is None:
        return [None] * len(work.papers)
    texts = [paper_text(p.title, p.summary) for p in work.papers]
    if VECTORS.exists():
        stored = np.load(VECTORS)
        if stored["vectors"].shape[0] == len(texts):
            return [pack(v, t) for v, t in zip(stored["vectors"], texts, strict=True)]
    vectors = encoder.encode(texts)  # type: ignore[attr-defined]
    return [pack(v, t) for v, t in zip(vectors, texts, strict=True)]


def _kind(value: str) -> str:
    try:
        return parse_interest(value).kind
    except InterestSyntaxError:
        return "keyword"  # stored as typed; the job skips it
