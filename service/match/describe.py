"""Descriptions ("efficient long-sequence models like S4 and Mamba applied to vision"), scored
by meaning when the semantic extra is installed, by their informative words otherwise.

Semantic score: the cosine similarity of the description and the paper (title and start of the
abstract), plus ``LEXICAL_WEIGHT`` times the share of the description's informative words the
paper contains (rarity-weighted, BM25-saturated): embeddings rank topics well but blur short
technical names, words pin them down. A paper must reach an absolute floor and stand above the
description's own average similarity over the recent papers (a per-description z-score), so a
vague description does not match everything. Every score is matrix arithmetic: one product per
batch of papers for all distinct descriptions, each embedded once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.match.compile import DescriptionTerm
from service.match.index import DocHits
from service.match.score import CorpusStats, MatchConfig, strength

Scored = dict[int, tuple[float, str]]  # description term id -> (normalised score, reason)
Described = Sequence[tuple[int, DescriptionTerm, tuple[int, ...]]]
LEXICAL_WEIGHT = 0.3
TOP_SCORE = 0.8  # a paper about exactly the description: cosine ~0.6 and most of its words
MIN_Z = 0.5  # standard deviations above the description's mean similarity
MIN_REFERENCE = 30  # fewer recent papers than this: the absolute floor alone decides
_BLOCK = 256


@dataclass(slots=True)
class DescriptionScores:
    """(description term, paper, normalised score, reason) for each pair that passes."""

    term: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    paper: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    reason: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reasons: list[str] = field(default_factory=list)
    _by_paper: dict[int, Scored] | None = None

    def add(
        self, term: np.ndarray, paper: np.ndarray, score: np.ndarray, reason: np.ndarray
    ) -> None:
        self.term = np.concatenate([self.term, term.astype(np.int64)])
        self.paper = np.concatenate([self.paper, paper.astype(np.int64)])
        self.score = np.concatenate([self.score, score.astype(np.float64)])
        self.reason = np.concatenate([self.reason, reason.astype(np.int64)])

    def for_paper(self, paper: int) -> Scored:
        if self._by_paper is None:
            self._by_paper = {}
            rows = zip(
                self.term.tolist(),
                self.paper.tolist(),
                self.score.tolist(),
                self.reason.tolist(),
                strict=True,
            )
            for term, number, score, reason in rows:
                self._by_paper.setdefault(number, {})[term] = (score, self.reasons[reason])
        return self._by_paper.get(paper, {})


def score_descriptions(
    descriptions: Described,
    docs: Sequence[DocHits],
    stats: CorpusStats,
    config: MatchConfig,
    vectors: tuple[np.ndarray, np.ndarray, Mapping[str, np.ndarray]] | None = None,
) -> DescriptionScores:
    """Which descriptions each paper satisfies, and how well. ``vectors`` = (paper vectors,
    reference vectors, description vectors by text); rows of zeros mark papers without a
    vector, which are scored by words alone."""
    result = DescriptionScores()
    if not descriptions:
        return result
    coverage = _coverage(descriptions, docs, stats, config)
    if vectors is None:
        _lexical(descriptions, coverage, docs, range(len(docs)), config, result)
        return result
    papers, reference, by_text = vectors
    matrix = np.stack([by_text[term.text] for _, term, _ in descriptions]).astype(np.float32)
    mean, std = _similarity_stats(matrix, reference)
    with_vector = np.asarray(papers.any(axis=1), dtype=bool)
    ids = np.array([term_id for term_id, _, _ in descriptions], dtype=np.int64)
    result.reasons = [f"similar to your description, {n / 100:.2f}" for n in range(-100, 101)]
    floor, span = config.semantic_threshold, TOP_SCORE - config.semantic_threshold
    for start in range(0, len(docs), _BLOCK):
        stop = min(start + _BLOCK, len(docs))
        cosine = matrix @ papers[start:stop].T
        combined = cosine + LEXICAL_WEIGHT * coverage[:, start:stop]
        passed = (combined >= floor) & with_vector[None, start:stop]
        if mean is not None:
            passed &= (cosine - mean[:, None]) >= MIN_Z * std[:, None]
        rows, cols = np.nonzero(passed)
        value = combined[rows, cols].astype(np.float64)
        score = config.threshold + (value - floor) / max(span, 1e-6) * (1.0 - config.threshold)
        reason = np.rint(cosine[rows, cols] * 100).astype(np.int64) + 100
        result.add(ids[rows], cols + start, score, reason)
    missing = np.flatnonzero(~with_vector).tolist()
    _lexical(descriptions, coverage, docs, missing, config, result)
    return result


def _scale(value: float, floor: float, span: float, threshold: float) -> float:
    """Map [floor, floor + span] onto [threshold, 1]: comparable with keyword scores."""
    return threshold + (value - floor) / max(span, 1e-6) * (1.0 - threshold)


def _similarity_stats(
    matrix: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray]:
    """Each description's mean and standard deviation of similarity over the recent papers."""
    rows = reference[reference.any(axis=1)]
    if len(rows) < MIN_REFERENCE:
        return None, np.zeros(len(matrix))
    total = np.zeros(len(matrix))
    squares = np.zeros(len(matrix))
    for start in range(0, len(rows), 1024):
        block = (matrix @ rows[start : start + 1024].T).astype(np.float64)
        total += block.sum(axis=1)
        squares += (block * block).sum(axis=1)
    mean = total / len(rows)
    return mean, np.sqrt(np.maximum(squares / len(rows) - mean * mean, 0.0))


def _coverage(
    descriptions: Described, docs: Sequence[DocHits], stats: CorpusStats, config: MatchConfig
) -> np.ndarray:
    """descriptions x papers: the idf-weighted share of each description's words present."""
    words = sorted({w for _, _, ids in descriptions for w in ids})
    column = {w: i for i, w in enumerate(words)}
    present = np.zeros((len(words), len(docs)), dtype=np.float32)
    for paper, doc in enumerate(docs):
        for term_id in column.keys() & doc.hits.keys():
            present[column[term_id], paper] = min(
                strength(doc.hits[term_id], doc, stats, config), 1.0
            )
    idf = np.array([stats.idf(w) for w in words], dtype=np.float32)
    out = np.zeros((len(descriptions), len(docs)), dtype=np.float32)
    for start in range(0, len(descriptions), 2048):
        chunk = descriptions[start : start + 2048]
        weights = np.zeros((len(chunk), len(words)), dtype=np.float32)
        for row, (_, _, ids) in enumerate(chunk):
            cols = [column[w] for w in ids]
            if cols:
                weights[row, cols] = idf[cols] / idf[cols].sum()
        out[start : start + len(chunk)] = weights @ present
    return out


def _lexical(
    descriptions: Described,
    coverage: np.ndarray,
    docs: Sequence[DocHits],
    papers: Sequence[int] | range,
    config: MatchConfig,
    result: DescriptionScores,
) -> None:
    """Without vectors: enough of the description's weight must be present."""
    floor = config.lexical_threshold
    terms, numbers, scores, reasons = [], [], [], []
    for paper in papers:
        for row in np.flatnonzero(coverage[:, paper] >= floor).tolist():
            term_id, term, ids = descriptions[row]
            share = float(coverage[row, paper])
            found = [w.label for w, i in zip(term.words, ids, strict=True) if i in docs[paper].hits]
            terms.append(term_id)
            numbers.append(paper)
            scores.append(_scale(share, floor, 1.0 - floor, config.threshold))
            reasons.append(len(result.reasons))
            result.reasons.append("your description: " + ", ".join(f"“{w}”" for w in found[:3]))
    if terms:
        result.add(np.array(terms), np.array(numbers), np.array(scores), np.array(reasons))
