"""Scores: term rarity (BM25), title above abstract, proximity, and the boosts.

Each interest's score is normalised to its own best case (every term once in the title and
twice in the abstract scores 1.0), so one threshold works for every interest and a digest can
rank papers matched by different interests against each other.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.match.index import DocHits

if TYPE_CHECKING:
    from service.config import Settings


@dataclass(frozen=True, slots=True)
class MatchConfig:
    threshold: float = 0.3  # normalised score a paper must reach for a keyword interest
    semantic_threshold: float = 0.45  # description: cosine + 0.3 x share of its words
    lexical_threshold: float = 0.3  # share of a description's weight a paper must cover (fallback)
    title_weight: float = 3.0
    k1: float = 1.2
    b: float = 0.75
    category_score: float = 0.6  # a category-only interest, before boosts
    trending_boost: float = 0.2  # up to +20% for the most upvoted papers
    recency_boost: float = 0.1  # up to +10% for the newest papers
    recency_half_life_days: float = 3.0
    keep_per_subscriber: int = 100  # best matches kept per subscriber and run


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """Document frequencies over the reference papers (the match window)."""

    papers: int
    abstract_len: float
    df: dict[int, int]

    @classmethod
    def of(cls, docs: Iterable[DocHits]) -> CorpusStats:
        df: Counter[int] = Counter()
        papers = length = 0
        for doc in docs:
            papers += 1
            length += doc.abstract_len
            df.update(doc.hits.keys())
            df.update(doc.categories.keys())
            df.update(doc.authors.keys())
        return cls(papers, length / papers if papers else 1.0, dict(df))

    def idf(self, term_id: int) -> float:
        """Lucene's BM25 idf: positive for every term, small for common ones ("state")."""
        df = self.df.get(term_id, 0)
        return math.log(1.0 + (self.papers - df + 0.5) / (df + 0.5))


def saturate(weight: float, k1: float) -> float:
    return weight * (k1 + 1.0) / (weight + k1)


def strength(
    entry: tuple[list[int], list[int]], doc: DocHits, stats: CorpusStats, config: MatchConfig
) -> float:
    """How strongly one term is present, relative to once in the title and twice in the
    abstract (1.0). Abstract counts are length-normalised as in BM25."""
    title, abstract = entry
    norm = 1.0 - config.b + config.b * doc.abstract_len / max(stats.abstract_len, 1.0)
    weight = config.title_weight * len(title) + len(abstract) / norm
    ideal = saturate(config.title_weight + 2.0, config.k1)
    return saturate(weight, config.k1) / ideal


def proximity(spans: Sequence[tuple[list[int], list[int], int]]) -> float:
    """1.0 when the terms stand together (in any order) in the title, less in the abstract,
    less again when they are scattered. ``spans``: (title, abstract positions, token length)."""
    if len(spans) < 2:
        return 1.0
    width = sum(length for _, _, length in spans)
    title = _window([(s[0], s[2]) for s in spans])
    abstract = _window([(s[1], s[2]) for s in spans])
    if title is not None and title <= width + 2:
        return 1.0
    if abstract is not None and abstract <= width + 2:
        return 0.95
    closest = min((w for w in (title, abstract) if w is not None), default=None)
    if closest is not None and closest <= width + 8:
        return 0.8
    return 0.4


def _window(lists: Sequence[tuple[list[int], int]]) -> int | None:
    """The smallest span of tokens holding one occurrence of each term (None if one is absent)."""
    if any(not positions for positions, _ in lists):
        return None
    events = sorted(
        (p, i, p + length) for i, (positions, length) in enumerate(lists) for p in positions
    )
    best: int | None = None
    last_end: dict[int, tuple[int, int]] = {}
    for position, term, end in events:
        last_end[term] = (position, end)
        if len(last_end) == len(lists):
            start = min(p for p, _ in last_end.values())
            stop = max(e for _, e in last_end.values())
            if best is None or stop - start < best:
                best = stop - start
    return best


def boost(upvotes: int, when: dt.datetime | None, now: dt.datetime, config: MatchConfig) -> float:
    """The multiplier for trending (Hugging Face upvotes) and recency."""
    trending = min(1.0, math.log1p(max(upvotes, 0)) / math.log1p(200))
    recent = 0.0
    if when is not None:
        age = max((now - when).total_seconds() / 86_400, 0.0)
        recent = 0.5 ** (age / config.recency_half_life_days)
    return 1.0 + config.trending_boost * trending + config.recency_boost * recent


def config_from(settings: Settings) -> MatchConfig:
    """The match settings of ``service.config.Settings``."""
    return MatchConfig(
        threshold=settings.match_threshold,
        semantic_threshold=settings.match_semantic_threshold,
        lexical_threshold=settings.match_lexical_threshold,
        trending_boost=settings.match_trending_boost,
        recency_boost=settings.match_recency_boost,
        recency_half_life_days=settings.match_recency_half_life_days,
        keep_per_subscriber=settings.match_keep_per_subscriber,
    )
