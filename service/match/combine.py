"""Fan the per-interest hits out to the subscribers holding those interests, in bulk.

Exclusions ("-survey" as an interest of its own, or a negated interest) remove papers from
their subscriber's matches; a paper matched by several interests of one subscriber is kept once,
with the best interest's score and reasons and a bonus for each further interest; each subscriber
keeps the best ``keep_per_subscriber`` papers of the run (a digest never shows more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.match.hits import Hits, Postings

EXTRA_INTEREST_BONUS = 0.25


@dataclass(frozen=True, slots=True)
class Holders:
    """Who holds each distinct interest: CSR arrays (interest i -> rows indptr[i]:indptr[i+1])."""

    indptr: np.ndarray  # int64, one more than the interests
    subscribers: np.ndarray  # int64
    weights: np.ndarray  # float64

    @classmethod
    def of(cls, per_interest: Sequence[Sequence[tuple[int, float]]]) -> Holders:
        counts = np.array([len(rows) for rows in per_interest], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        flat = [row for rows in per_interest for row in rows]
        subscribers = np.array([s for s, _ in flat], dtype=np.int64)
        weights = np.array([w for _, w in flat], dtype=np.float64)
        return cls(indptr, subscribers, weights)


@dataclass(frozen=True, slots=True)
class MatchTable:
    """The matches of a run, column by column (for bulk writes)."""

    subscribers: np.ndarray  # int64
    papers: np.ndarray  # int64, index into the papers matched
    scores: np.ndarray  # float64
    reason_ids: np.ndarray  # int64, index into ``reasons``
    reasons: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.subscribers)

    def without(self, subscribers: Sequence[int]) -> MatchTable:
        """The table less these subscribers' rows."""
        if not len(subscribers):
            return self
        kept = ~np.isin(self.subscribers, np.asarray(subscribers, dtype=np.int64))
        return MatchTable(
            self.subscribers[kept], self.papers[kept], self.scores[kept], self.reason_ids[kept],
            self.reasons,
        )  # fmt: skip


def combine(
    hits: Hits,
    excluding: Sequence[bool],
    holders: Holders,
    boosts: np.ndarray,
    keep: int | np.ndarray,
) -> MatchTable:
    """``keep``: how many papers each subscriber keeps, one number or an array by subscriber id
    (a subscriber's digest size: keeping more could never reach a digest)."""
    papers = max(len(boosts), 1)
    is_excluding = np.array(excluding, dtype=bool)[hits.interest]
    sub, paper, score, rid = _fan_out(hits, holders)
    flag = np.repeat(is_excluding, np.diff(holders.indptr)[hits.interest])
    score = np.where(flag, 0.0, score * boosts[paper])
    sub, paper, score, rid = _merge(sub, paper, score, rid, flag, papers)
    order = _order(sub, score)
    sub, paper, score, rid = sub[order], paper[order], score[order], rid[order]
    starts = np.flatnonzero(np.r_[True, sub[1:] != sub[:-1]]) if len(sub) else np.zeros(0, np.int64)
    rank = np.arange(len(sub)) - np.repeat(starts, np.diff(np.r_[starts, len(sub)]))
    limit = keep if isinstance(keep, int) else keep[sub]
    top = rank < limit
    return MatchTable(sub[top], paper[top], score[top], rid[top], hits.reasons)


def _fan_out(hits: Hits, holders: Holders) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every holder of each hit's interest, with the holder's weight applied."""
    postings = Postings(holders.indptr, np.arange(len(holders.subscribers), dtype=np.int64))
    rows, holder = postings.expand(hits.interest)
    return (
        holders.subscribers[holder],
        hits.paper[rows],
        hits.score[rows] * holders.weights[holder],
        hits.reason[rows],
    )


def _merge(
    sub: np.ndarray,
    paper: np.ndarray,
    score: np.ndarray,
    rid: np.ndarray,
    excluded: np.ndarray,
    papers: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One row per (subscriber, paper), in a single sort: none where an exclusion of the
    subscriber hit the paper; else the best interest's score and reasons, plus a bonus for
    each further interest of the subscriber that matched."""
    if not len(sub):
        return sub, paper, score, rid
    key = sub * papers + paper
    order = _order(key, score, excluded)  # per pair: exclusions first, then the best
    key, excluded = key[order], excluded[order]
    first = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(first)
    extra = np.add.reduceat(np.where(first, 0.0, score[order]), starts)
    best = order[starts]
    kept = ~excluded[starts]
    best, extra = best[kept], extra[kept]
    return sub[best], paper[best], score[best] + EXTRA_INTEREST_BONUS * extra, rid[best]


_SCORE_BITS = 21


def _order(key: np.ndarray, score: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
    """Rows by key, then ``first`` rows, then score descending: one sort of a composite
    integer (scores quantised to 2**-21 of the largest) when it fits in 63 bits, else lexsort."""
    if not len(key):
        return np.zeros(0, dtype=np.int64)
    top = float(score.max()) if len(score) else 0.0
    flag_bits = 1 if first is not None else 0
    if int(key.max()) >= 1 << (62 - _SCORE_BITS - flag_bits) or top <= 0.0:
        columns = [-score] if first is None else [-score, ~first]
        return np.lexsort((*columns, key))
    levels = (1 << _SCORE_BITS) - 1
    rank = levels - np.minimum(np.rint(score / top * levels), levels).astype(np.int64)
    composite = key << (_SCORE_BITS + flag_bits)
    if first is not None:
        composite |= (~first).astype(np.int64) << _SCORE_BITS
    return np.argsort(composite | rank, kind="stable")
