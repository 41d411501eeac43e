"""The index and the naive loop (every interest against every paper) give the same hits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.match import acronyms
from service.match.compile import compile_text
from service.match.describe import score_descriptions
from service.match.engine import Subscriptions, index_for
from service.match.score import CorpusStats, MatchConfig
from service.match.semantic import paper_text
from service.match.types import InterestSpec, PaperDoc
from tests.benchmarks.match_workload import NOW, build
from tests.match.evaluate import EVAL_SET, seed_papers
from tests.match.fakes import HashingEncoder
from tests.match.naive import NaiveMatcher, tokenise


def indexed_hits(
    papers: list[PaperDoc], values: list[str], vectors: dict[str, np.ndarray] | None
) -> dict[str, dict[int, float]]:
    subs = Subscriptions.of(InterestSpec(n, n, v) for n, v in enumerate(values))
    percolator, _ = index_for(subs, acronyms.learn(p.summary for p in papers))
    docs = percolator.scan(papers)
    stats = CorpusStats.of(docs)
    config = MatchConfig()
    with_vectors = None
    if vectors is not None:
        matrix = np.stack(
            [HashingEncoder().encode([paper_text(p.title, p.summary)])[0] for p in papers]
        )
        with_vectors = (matrix, matrix, vectors)
    described = score_descriptions(percolator.descriptions, docs, stats, config, with_vectors)
    hits = percolator.match(docs, stats, described, config)
    found: dict[str, dict[int, float]] = {}
    for i, p, s in zip(
        hits.interest.tolist(), hits.paper.tolist(), hits.score.tolist(), strict=True
    ):
        found.setdefault(subs.values[i], {})[p] = s
    return found


def naive_hits(
    papers: list[PaperDoc], values: list[str], vectors: dict[str, np.ndarray] | None
) -> dict[str, dict[int, float]]:
    encoder = HashingEncoder()
    tokenised = [
        tokenise(p, encoder.encode([paper_text(p.title, p.summary)])[0] if vectors else None)
        for p in papers
    ]
    matcher = NaiveMatcher(tokenised, MatchConfig())
    out = {}
    for value in values:
        compiled = compile_text(value)
        # the naive scores include boosts; compare presence and the normalised order only
        out[value] = {p: s for p, (s, _) in matcher.match(compiled, False, NOW, vectors).items()}
    return out


def compare(
    papers: list[PaperDoc], values: list[str], vectors: dict[str, np.ndarray] | None
) -> None:
    fast, slow = indexed_hits(papers, values, vectors), naive_hits(papers, values, vectors)
    for value in values:
        assert set(fast.get(value, {})) == set(slow[value]), value


def test_same_hits_as_the_naive_loop_on_the_judged_interests() -> None:
    values = [i["interest"] for i in json.loads(EVAL_SET.read_text())["interests"]]
    values += ["-survey", "cat:cs", 'diffusion OR "vision transformer" -segmentation', "CNN"]
    compare(seed_papers(), values, None)


@pytest.mark.parametrize("seed", [1, 2])
def test_same_hits_as_the_naive_loop_on_a_random_workload(seed: int) -> None:
    work = build(150, 40, 20, seed)
    values = sorted({v for _, v in work.interests})
    encoder = HashingEncoder()
    vectors = dict(zip(work.descriptions, encoder.encode(work.descriptions), strict=True))
    compare(work.papers, values, None)
    compare(work.papers, values, vectors)
