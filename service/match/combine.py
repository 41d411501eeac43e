"""Fan the per-interest hits out to the subscribers holding those interests, in bulk.

Exclusions ("-survey" as an interest of its own, or a negated interest) remove papers from
their subscriber's matches; a paper matched by several interests of one subscriber is kept once
with the best score, a bonus for each further interest, and the reasons of all; each subscriber
keeps the best ``keep_per_subscriber`` papers of the run (a digest never shows more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.match.percolate import InterestHit

EXTRA_INTEREST_BONUS = 0.25
MAX_REASONS = 4


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


def combine(
    hits: Sequence[InterestHit],
    excluding: Sequence[bool],
    holders: Holders,
    boosts: np.ndarray,
    keep: int,
) -> MatchTable:
    wanted = [h for h in hits if not excluding[h.interest]]
    unwanted = [h for h in hits if excluding[h.interest]]
    reasons = [h.reasons for h in wanted]
    sub, paper, score, rid = _fan_out(wanted, holders, len(boosts))
    score = score * boosts[paper]
    width = np.int64(max(len(boosts), 1))
    if unwanted:
        ex_sub, ex_paper, _, _ = _fan_out(unwanted, holders, len(boosts))
        keep_rows = ~np.isin(sub * width + paper, np.unique(ex_sub * width + ex_paper))
        sub, paper, score, rid = sub[keep_rows], paper[keep_rows], score[keep_rows], rid[keep_rows]
    sub, paper, score, rid = _merge_duplicates(sub, paper, score, rid, width, reasons)
    order = np.lexsort((-score, sub))
    sub, paper, score, rid = sub[order], paper[order], score[order], rid[order]
    starts = np.flatnonzero(np.r_[True, sub[1:] != sub[:-1]]) if len(sub) else np.zeros(0, int)
    rank = np.arange(len(sub)) - np.repeat(starts, np.diff(np.r_[starts, len(sub)]))
    top = rank < keep
    return MatchTable(sub[top], paper[top], score[top], rid[top], reasons)


def _fan_out(
    hits: Sequence[InterestHit], holders: Holders, papers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    count = len(hits)
    interest = np.fromiter((h.interest for h in hits), np.int64, count)
    paper = np.fromiter((h.paper for h in hits), np.int64, count)
    score = np.fromiter((h.score for h in hits), np.float64, count)
    begin, end = holders.indptr[interest], holders.indptr[interest + 1]
    counts = end - begin
    total = int(counts.sum())
    first = np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.repeat(begin, counts) + (np.arange(total, dtype=np.int64) - first)
    return (
        holders.subscribers[rows],
        np.repeat(paper, counts),
        np.repeat(score, counts) * holders.weights[rows],
        np.repeat(np.arange(count, dtype=np.int64), counts),
    )


def _merge_duplicates(
    sub: np.ndarray,
    paper: np.ndarray,
    score: np.ndarray,
    rid: np.ndarray,
    width: np.int64,
    reasons: list[tuple[str, ...]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One row per (subscriber, paper): the best score plus a bonus per further interest."""
    key = sub * width + paper
    order = np.lexsort((-score, key))
    key, sub, paper, score, rid = key[order], sub[order], paper[order], score[order], rid[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    if len(starts) < len(key):  # some subscribers matched a paper through several interests
        extra = np.bincount(group, weights=np.where(first, 0.0, score), minlength=len(starts))
        best_rid = rid[starts].copy()
        for g in np.flatnonzero(np.bincount(group) > 1).tolist():
            start = starts[g]
            stop = starts[g + 1] if g + 1 < len(starts) else len(key)
            merged = dict.fromkeys(r for row in rid[start:stop].tolist() for r in reasons[row])
            reasons.append(tuple(merged)[:MAX_REASONS])
            best_rid[g] = len(reasons) - 1
        score = score[starts] + EXTRA_INTEREST_BONUS * extra
        return sub[starts], paper[starts], score, best_rid
    return sub, paper, score, rid
