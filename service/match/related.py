"""Papers about what a keyword phrase names, without its words: "infinite width" also finds
"infinitely wide networks", "vision transformer" also "visual transformers".

Pseudo-relevance feedback over the stored sentence vectors: the best word matches of a phrase
in the window (two at least) describe its topic, their vectors weighted by score making a
centroid; a window paper without the words is related when it stands well above the phrase's
own average similarity over the window (a per-phrase z-score), and only the few closest are
kept, no more than the phrase matches by words. Everything is computed over the whole window
(reference papers and the papers being matched), so the beat job, a backfill and ``paperpost
match test`` relate the same papers.

Only phrases of two words or more, in a plain interest (no OR, exclusion, field or
description): a lone word or an acronym is matched by its exact words alone (sentence
vectors blur "NAS" and "NASA"). Related papers score just above the threshold, under the
papers that use the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from service.match.compile import TextTerm, compile_text
from service.match.hits import I64, Hits
from service.match.nodes import InterestSyntaxError

FEEDBACK = 3  # best word matches whose vectors stand for the phrase's topic
MIN_FEEDBACK = 2  # one paper's neighbours share its other topics, not the phrase's
MIN_Z = 2.0  # standard deviations above the phrase's mean similarity over the window
MAX_RELATED = 3  # and never more than the phrase's word matches in the window
MIN_WINDOW = 30  # fewer papers with a vector than this: no statistics, nothing related
RELATED_SPAN = 0.1  # related papers score from the threshold to threshold + this
_BLOCK = 1024


@dataclass(frozen=True, slots=True)
class Window:
    """The papers of the run then the other papers of the window: their vectors (rows of zeros
    for papers without one) and every word match of the interests over all of them."""

    vectors: np.ndarray  # float32, one row per paper
    targets: int  # the first ``targets`` rows are the papers being matched
    interest: np.ndarray  # word matches: interest, paper row, score
    paper: np.ndarray
    score: np.ndarray


@lru_cache(maxsize=1 << 20)  # every distinct interest of a large instance
def phrase_of(value: str) -> str | None:
    """The phrase a stored interest relates papers for ("vision transformer"), or None."""
    try:
        compiled = compile_text(value)
    except InterestSyntaxError:
        return None
    if compiled.exclusion_only or len(compiled.clauses) != 1:
        return None
    clause = compiled.clauses[0]
    terms = clause.terms
    if clause.excluded or not terms or not all(isinstance(t, TextTerm) for t in terms):
        return None
    text_terms = [t for t in terms if isinstance(t, TextTerm)]
    if any(t.title_only for t in text_terms):
        return None
    if sum(len(t.variants[0].stems) for t in text_terms) < 2:
        return None
    return " ".join(t.label for t in text_terms)


_phrases: dict[tuple[int, int], list[str | None]] = {}


def phrases_of(values: Sequence[str], negated: Sequence[bool]) -> list[str | None]:
    """The phrase of each distinct interest (None for the others and for negated ones); kept
    in the process, like the index, until the interests change."""
    key = (hash(tuple(values)), hash(tuple(negated)))
    found = _phrases.get(key)
    if found is None:
        found = [None if no else phrase_of(v) for v, no in zip(values, negated, strict=True)]
        _phrases.clear()
        _phrases[key] = found
    return found


def related_hits(
    hits: Hits, window: Window, phrases: Sequence[str | None], threshold: float
) -> Hits:
    """``hits`` with the related papers of each phrase added (among the papers matched)."""
    with_vector = np.asarray(window.vectors.any(axis=1), dtype=bool)
    if int(with_vector.sum()) < MIN_WINDOW or not any(phrases):
        return hits
    centroids, interests, budgets = _centroids(window, phrases, with_vector)
    if not len(interests):
        return hits
    position = np.full(len(phrases), -1, dtype=I64)
    position[interests] = np.arange(len(interests))
    matched = position[window.interest]  # each word match's row among the centroids
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(interests), _BLOCK):
        stop = min(start + _BLOCK, len(interests))
        mine = (matched >= start) & (matched < stop)
        known = (matched[mine] - start, window.paper[mine])
        found.append(
            _closest(centroids[start:stop], interests[start:stop], budgets[start:stop],
                     known, window.vectors, with_vector)
        )  # fmt: skip
    interest = np.concatenate([f[0] for f in found])
    paper = np.concatenate([f[1] for f in found])
    z = np.concatenate([f[2] for f in found])
    keep = paper < window.targets
    interest, paper, z = interest[keep], paper[keep], z[keep]
    if not len(interest):
        return hits
    reasons = list(hits.reasons)
    labels = {int(i): len(reasons) + n for n, i in enumerate(np.unique(interest).tolist())}
    reasons.extend((f"related to “{phrases[i]}”",) for i in labels)
    score = threshold + RELATED_SPAN * np.clip((z - MIN_Z) / MIN_Z, 0.0, 1.0)
    related = Hits(interest, paper, score, np.array([labels[int(i)] for i in interest], I64))
    return Hits(
        np.concatenate([hits.interest, related.interest]),
        np.concatenate([hits.paper, related.paper]),
        np.concatenate([hits.score, related.score]),
        np.concatenate([hits.reason, related.reason]),
        reasons,
    )


def _centroids(
    window: Window, phrases: Sequence[str | None], with_vector: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per phrase with word matches: the unit centroid of its best ones, and how many papers
    it may relate (as many as it matches by words, at most MAX_RELATED)."""
    eligible = np.array([p is not None for p in phrases], dtype=bool)
    rows = np.flatnonzero(eligible[window.interest] & with_vector[window.paper])
    if not len(rows):
        return np.zeros((0, window.vectors.shape[1]), np.float32), np.zeros(0, I64), rows
    interest, paper, score = window.interest[rows], window.paper[rows], window.score[rows]
    order = np.lexsort((-score, interest))
    interest, paper, score = interest[order], paper[order], score[order]
    starts = np.flatnonzero(np.r_[True, interest[1:] != interest[:-1]])
    counts = np.diff(np.r_[starts, len(interest)])
    rank = np.arange(len(interest)) - np.repeat(starts, counts)
    top = rank < FEEDBACK
    weighted = window.vectors[paper[top]] * score[top, None].astype(np.float32)
    group = np.repeat(np.arange(len(starts)), counts)[top]
    centroids = np.zeros((len(starts), window.vectors.shape[1]), np.float32)
    np.add.at(centroids, group, weighted)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    enough = counts >= MIN_FEEDBACK
    return centroids[enough], interest[starts][enough], np.minimum(counts, MAX_RELATED)[enough]


def _closest(
    centroids: np.ndarray,
    interests: np.ndarray,
    budgets: np.ndarray,
    known: tuple[np.ndarray, np.ndarray],
    vectors: np.ndarray,
    with_vector: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(interest, paper row, z) of the papers related to each of these phrases; ``known``:
    (centroid row, paper row) of their word matches, which are not related again."""
    sims = centroids @ vectors.T
    present = sims if with_vector.all() else sims[:, with_vector]
    mean = present.mean(axis=1, keepdims=True, dtype=np.float64)
    std = np.maximum(present.std(axis=1, keepdims=True, dtype=np.float64), 1e-6)
    z = ((sims - mean) / std).astype(np.float32)
    z[:, ~with_vector] = -np.inf
    z[known] = -np.inf
    z[z < MIN_Z] = -np.inf
    take = min(MAX_RELATED, z.shape[1])
    best = np.argpartition(-z, take - 1, axis=1)[:, :take]
    best_z = np.take_along_axis(z, best, axis=1)
    rank = np.argsort(-best_z, axis=1)
    best, best_z = np.take_along_axis(best, rank, axis=1), np.take_along_axis(best_z, rank, axis=1)
    ok = (np.arange(take)[None, :] < budgets[:, None]) & np.isfinite(best_z)
    row, col = np.nonzero(ok)
    return interests[row], best[row, col].astype(I64), best_z[row, col]
