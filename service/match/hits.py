"""Columnar hits and the vectorised steps of matching.

Most interests are one keyword: for those, matching is a join of (paper, term) occurrences
with (term, interest) postings, done with array operations rather than a Python loop per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from service.match.index import DocHits
from service.match.score import CorpusStats, MatchConfig, saturate

I64 = np.int64


@dataclass(slots=True)
class Hits:
    """(interest, paper, score, reason) rows; reasons are ids into ``reasons``."""

    interest: np.ndarray = field(default_factory=lambda: np.zeros(0, I64))
    paper: np.ndarray = field(default_factory=lambda: np.zeros(0, I64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    reason: np.ndarray = field(default_factory=lambda: np.zeros(0, I64))
    reasons: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.interest)

    def take(self, rows: np.ndarray) -> Hits:
        return Hits(
            self.interest[rows], self.paper[rows], self.score[rows], self.reason[rows], self.reasons
        )


def concat(parts: Sequence[Hits], reasons: list[tuple[str, ...]]) -> Hits:
    """One table from several whose reason ids already point into ``reasons``."""
    if not parts:
        return Hits(reasons=reasons)
    return Hits(
        np.concatenate([p.interest for p in parts]),
        np.concatenate([p.paper for p in parts]),
        np.concatenate([p.score for p in parts]),
        np.concatenate([p.reason for p in parts]),
        reasons,
    )


@dataclass(frozen=True, slots=True)
class Postings:
    """CSR: key k -> values[indptr[k]:indptr[k + 1]]."""

    indptr: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, pairs: Sequence[tuple[int, int]], keys: int) -> Postings:
        pairs = sorted(pairs)
        counts = (
            np.bincount(np.array([k for k, _ in pairs], I64), minlength=keys)
            if pairs
            else np.zeros(keys, I64)
        )
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(I64)
        return cls(indptr, np.array([v for _, v in pairs], I64))

    def expand(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key (by row), its values: (row of the key, value) for every value."""
        begin, end = self.indptr[keys], self.indptr[keys + 1]
        counts = end - begin
        rows = np.repeat(np.arange(len(keys), dtype=I64), counts)
        offsets = np.arange(int(counts.sum()), dtype=I64) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        return rows, self.values[np.repeat(begin, counts) + offsets]


@dataclass(frozen=True, slots=True)
class Occurrences:
    """Every (paper, term) occurrence of the batch, with its strength (see score.strength)."""

    paper: np.ndarray
    term: np.ndarray
    strength: np.ndarray
    in_title: np.ndarray

    @classmethod
    def of(cls, docs: Sequence[DocHits], stats: CorpusStats, config: MatchConfig) -> Occurrences:
        papers: list[int] = []
        terms: list[int] = []
        titles: list[int] = []
        abstracts: list[int] = []
        lengths: list[int] = []
        for number, doc in enumerate(docs):
            for term_id, (title, abstract) in doc.hits.items():
                papers.append(number)
                terms.append(term_id)
                titles.append(len(title))
                abstracts.append(len(abstract))
                lengths.append(doc.abstract_len)
        in_title = np.array(titles, np.float64)
        length = np.array(lengths, np.float64) / max(stats.abstract_len, 1.0)
        norm = 1.0 - config.b + config.b * length
        weight = config.title_weight * in_title + np.array(abstracts, np.float64) / norm
        ideal = saturate(config.title_weight + 2.0, config.k1)
        strength = weight * (config.k1 + 1.0) / (weight + config.k1) / ideal
        return cls(np.array(papers, I64), np.array(terms, I64), strength, in_title > 0)

    def by_paper(self, papers: int) -> list[dict[int, float]]:
        """term id -> strength, for each paper."""
        out: list[dict[int, float]] = [{} for _ in range(papers)]
        for paper, term, value in zip(
            self.paper.tolist(), self.term.tolist(), self.strength.tolist(), strict=True
        ):
            out[paper][term] = value
        return out


def best_per_pair(hits: Hits, papers: int, bonus: float) -> Hits:
    """One row per (interest, paper): the best clause, plus ``bonus`` x the others' scores."""
    if len(hits) < 2:
        return hits
    key = hits.interest * max(papers, 1) + hits.paper
    order = np.lexsort((-hits.score, key))
    key = key[order]
    first = np.r_[True, key[1:] != key[:-1]]
    if first.all():
        return hits
    starts = np.flatnonzero(first)
    sorted_score = hits.score[order]
    others = np.add.reduceat(np.where(first, 0.0, sorted_score), starts)
    best = hits.take(order[starts])
    best.score = best.score + bonus * others
    return best


def top_per_interest(hits: Hits, boosts: np.ndarray, limits: np.ndarray) -> Hits:
    """Each interest's best ``limits[interest]`` papers (by score x boost; excluding interests
    have no limit). A subscriber keeps at most its digest size of papers, and holders of one
    interest rank its papers alike, so papers past that rank could never reach a digest."""
    if not len(hits):
        return hits
    order = np.lexsort((-(hits.score * boosts[hits.paper]), hits.interest))
    interest = hits.interest[order]
    starts = np.flatnonzero(np.r_[True, interest[1:] != interest[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return hits.take(np.sort(order[rank < limits[interest]]))
