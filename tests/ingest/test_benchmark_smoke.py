"""The ingest benchmark still runs (tiny sizes; no timing is asserted)."""

from __future__ import annotations

from tests.benchmarks import bench_ingest


def test_payloads_parse_into_distinct_papers() -> None:
    batches = bench_ingest.parse_all(bench_ingest.payloads(500))
    ids = [p.arxiv_id for batch in batches for p in batch]
    assert len(ids) == len(set(ids)) == 500
    assert [{p.source for p in batch} for batch in batches] == [{"hf"}, {"arxiv"}, {"rss"}]


def test_benchmark_runs_on_sqlite() -> None:
    figures = bench_ingest.run_backend("sqlite", 300, 50)
    assert figures["papers"] == 300 and figures["baseline_papers"] == 50
    assert figures["upsert_new_per_s"] > 0 and figures["tracemalloc_peak_mb"] > 0
