"""The match stage at scale: 1,000,000 subscribers with 1-5 interests against 1,000 papers.

    .venv/bin/python -m tests.benchmarks.bench_match [--subscribers N] [--papers N]
        [--descriptions N] [--sample N] [--seed N] [--no-semantic] [--no-postgres] [--json]

Workload: tests/benchmarks/match_workload.py (seeded; its parameters are printed). Phases:

1. embeddings (ingest-time work, once per paper and per distinct description, not part of
   matching): the real all-MiniLM-L6-v2 when the semantic extra is installed;
2. index: parse and compile every distinct interest and build the index (once; the beat job
   keeps it between runs and rebuilds it when interests change);
3. matching, cold (first batch in a fresh index) and warm (the next batch: the steady state of
   the beat job): scan each paper once, score, fan out to subscribers, keep each one's best;
4. the naive loop on a sample of subscribers: the same rules on every (interest, paper) pair of
   pre-tokenised papers (tests/match/naive.py); the sample's hits are checked against the
   index's, and its time per subscriber, times the subscribers, is the baseline of the ratio;
5. the whole job on PostgreSQL: subscribers, interests and two batches of papers loaded with
   COPY into a throwaway database, then ``pipeline.match_new_papers`` exactly as the beat job
   runs it (load interests, index, match, write the matches with COPY), in a process of its
   own (tests/benchmarks/match_job.py): the first run (a fresh process parses every interest;
   the table is empty), then the next batch (interests already compiled; the first run's rows
   in the table), and the peak memory of that process alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from service.match import acronyms
from service.match.compile import compile_text
from service.match.describe import score_descriptions
from service.match.engine import Subscriptions, index_for, match_subscriptions
from service.match.score import CorpusStats, MatchConfig
from service.match.semantic import load_encoder, pack, paper_text
from service.match.types import InterestSpec, PaperDoc
from tests.benchmarks.match_job import VECTORS, save_vectors
from tests.benchmarks.match_workload import NOW, Workload, build
from tests.match.naive import NaiveMatcher, tokenise


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def embed(
    work: Workload, semantic: bool
) -> tuple[list[PaperDoc], dict[str, np.ndarray] | None, dict[str, float]]:
    encoder = load_encoder("auto") if semantic else None
    if encoder is None:
        return work.papers, None, {}
    started = time.perf_counter()
    texts = [paper_text(p.title, p.summary) for p in work.papers]
    vectors = encoder.encode(texts)
    papers_s = time.perf_counter() - started
    save_vectors(VECTORS, texts, vectors)  # the PostgreSQL phase stores the same vectors
    started = time.perf_counter()
    described = dict(zip(work.descriptions, encoder.encode(work.descriptions), strict=True))
    descriptions_s = time.perf_counter() - started
    papers = [
        PaperDoc(
            p.id,
            p.arxiv_id,
            p.title,
            p.summary,
            p.authors,
            p.categories,
            p.upvotes,
            p.published_at,
            p.ingested_at,
            None,
            pack(v, t),
        )
        for p, v, t in zip(work.papers, vectors, texts, strict=True)
    ]
    return (
        papers,
        described,
        {"papers_s": round(papers_s, 1), "descriptions_s": round(descriptions_s, 1)},
    )


def engine(
    work: Workload, papers: list[PaperDoc], vectors: dict[str, np.ndarray] | None
) -> dict[str, Any]:
    started = time.perf_counter()
    subs = Subscriptions.of(InterestSpec(n, s, v) for n, (s, v) in enumerate(work.interests))
    limits = np.full(work.params["subscribers"] + 1, 10)  # type: ignore[operator]
    subs = Subscriptions(subs.values, subs.negated, subs.holders, limits)
    grouped = time.perf_counter() - started
    started = time.perf_counter()
    index_for(subs, acronyms.learn(p.summary for p in papers))
    index_s = time.perf_counter() - started
    out: dict[str, Any] = {"group_s": round(grouped, 2), "index_s": round(index_s, 2)}
    config = MatchConfig()
    for run in ("cold", "warm"):
        started = time.perf_counter()
        found = match_subscriptions(
            papers, subs, now=NOW, config=config, reference=papers, text_vectors=vectors
        )
        out[f"{run}_s"] = round(time.perf_counter() - started, 2)
        out[f"{run}_phases"] = found.seconds
    out["pairs"] = len(found.table)
    out["semantic"] = found.semantic
    out["peak_mb"] = peak_mb()
    out["subs"] = subs
    return out


def naive(
    work: Workload,
    papers: list[PaperDoc],
    subs: Subscriptions,
    vectors: dict[str, np.ndarray] | None,
    sample: int,
) -> dict[str, Any]:
    """The same rules, pair by pair, for ``sample`` subscribers; checked against the index."""
    chosen = {s for s, _ in work.interests[: sample * 3]}
    chosen = set(sorted(chosen)[:sample])
    texts = sorted({v for s, v in work.interests if s in chosen})
    config = MatchConfig()
    started = time.perf_counter()
    tokenised = [tokenise(p, _vector(p)) for p in papers]
    matcher = NaiveMatcher(tokenised, config)
    found = {}
    for text in texts:
        compiled = compile_text(text)
        if not compiled.exclusion_only:
            found[text] = matcher.match(compiled, False, NOW, vectors)
    elapsed = time.perf_counter() - started
    percolator, _ = index_for(subs, acronyms.learn(p.summary for p in papers))
    docs = percolator.scan(papers)
    stats = CorpusStats.of(docs)
    with_vectors = None
    if vectors is not None:
        matrix = np.stack([_vector(p) for p in papers])
        with_vectors = (matrix, matrix, vectors)
    described = score_descriptions(percolator.descriptions, docs, stats, config, with_vectors)
    hits = percolator.match(docs, stats, described, config)
    position = {v: i for i, v in enumerate(subs.values)}
    indexed: dict[str, set[int]] = {}
    for interest, paper in zip(hits.interest.tolist(), hits.paper.tolist(), strict=True):
        indexed.setdefault(subs.values[interest], set()).add(paper)
    differ = [
        t for t in found if set(found[t]) != indexed.get(t, set()) and not subs.negated[position[t]]
    ]
    return {
        "sample_subscribers": len(chosen),
        "sample_interests": len(texts),
        "naive_s": round(elapsed, 2),
        "naive_per_subscriber_s": elapsed / len(chosen),
        "interests_that_differ": len(differ),
    }


def _vector(paper: PaperDoc) -> np.ndarray | None:
    from service.match.semantic import unpack

    return unpack(paper.embedding, paper_text(paper.title, paper.summary))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--descriptions", type=int, default=5_000, help="distinct descriptions")
    parser.add_argument("--sample", type=int, default=300, help="subscribers in the naive loop")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-semantic", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # the PostgreSQL phase, in a child
    args = parser.parse_args(argv)
    if args.job:
        from tests.benchmarks.match_job import run_job

        print(json.dumps(run_job(args)))
        return 0
    started = time.perf_counter()
    work = build(args.subscribers, args.papers, args.descriptions, args.seed)
    report: dict[str, Any] = {
        "params": work.params,
        "build_s": round(time.perf_counter() - started, 1),
    }
    report["load_average"] = os.getloadavg()
    _say(args, f"workload: {work.params}")
    papers, vectors, report["embeddings"] = embed(work, not args.no_semantic)
    _say(args, f"embeddings (ingest-time, once): {report['embeddings']}")
    result = engine(work, papers, vectors)
    subs = result.pop("subs")
    report["engine"] = result
    _say(args, f"engine: {result}")
    report["naive"] = naive(work, papers, subs, vectors, args.sample)
    per_sub = report["naive"]["naive_per_subscriber_s"]
    report["naive"]["extrapolated_s"] = round(per_sub * args.subscribers, 1)
    report["ratio_warm"] = round(per_sub * args.subscribers / result["warm_s"], 1)
    report["ratio_cold_with_index"] = round(
        per_sub * args.subscribers / (result["cold_s"] + result["index_s"]), 1
    )
    _say(
        args,
        f"naive: {report['naive']}; ratio warm {report['ratio_warm']}x, cold with index build {report['ratio_cold_with_index']}x",
    )
    del work, papers, subs
    if not args.no_postgres:
        child = [
            sys.executable,
            "-m",
            "tests.benchmarks.bench_match",
            "--job",
            "1",
            *(argv if argv is not None else sys.argv[1:]),
        ]
        output = subprocess.run(child, capture_output=True, text=True, check=False)
        report["postgres"] = (
            json.loads(output.stdout.strip().splitlines()[-1])
            if output.returncode == 0
            else {"error": output.stderr[-2000:]}
        )
        _say(args, f"postgres job: {report['postgres']}")
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    return 0


def _say(args: argparse.Namespace, line: str) -> None:
    if not args.json:
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
