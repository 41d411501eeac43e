"""The one matching function: the beat job, ``paperpost match test`` and the web preview all
call ``match_subscriptions`` (``match_papers`` is its row-by-row form).

Papers are scanned once against the index of distinct interests; rarity statistics come from
the reference papers (the match window), so the same paper gets the same score whether it is
matched by the beat job or previewed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.match import acronyms
from service.match.combine import Holders, MatchTable, combine
from service.match.compile import CompiledInterest, compile_text
from service.match.describe import DescriptionScores, score_descriptions
from service.match.hits import Hits, top_per_interest
from service.match.index import DocHits
from service.match.nodes import InterestSyntaxError
from service.match.percolate import Percolator
from service.match.related import Window, phrases_of, related_hits
from service.match.score import CorpusStats, MatchConfig, boost
from service.match.semantic import DIMENSIONS, Encoder, paper_text, unpack
from service.match.types import InterestSpec, MatchResult, PaperDoc

log = logging.getLogger(__name__)
_NOTHING = CompiledInterest((), False)
EXCLUSION_MARGIN = 3  # papers an interest keeps beyond its holders' digest size


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Distinct interests (by text and negation) and the subscribers holding each."""

    values: list[str]
    negated: list[bool]
    holders: Holders
    limits: np.ndarray | None = None  # by subscriber id: papers kept (0: the configured keep)

    @classmethod
    def of(cls, specs: Iterable[InterestSpec]) -> Subscriptions:
        groups: dict[tuple[str, bool], list[tuple[int, float]]] = defaultdict(list)
        for spec in specs:
            groups[(spec.value, spec.negated)].append((spec.subscriber_id, spec.weight))
        keys = list(groups)
        return cls(
            [v for v, _ in keys], [n for _, n in keys], Holders.of([groups[k] for k in keys])
        )


@dataclass(frozen=True, slots=True)
class Matched:
    table: MatchTable
    papers: Sequence[PaperDoc]  # table.papers indexes these
    interests: int  # distinct interests indexed
    invalid: int  # stored interests that no longer parse (skipped)
    descriptions: int
    semantic: bool
    seconds: dict[str, float] = field(default_factory=dict)  # by phase

    def results(self) -> list[MatchResult]:
        t = self.table
        return [
            MatchResult(int(s), self.papers[int(p)].id, float(score), t.reasons[int(r)])
            for s, p, score, r in zip(t.subscribers, t.papers, t.scores, t.reason_ids, strict=True)
        ]


def match_papers(
    papers: Sequence[PaperDoc],
    interests: Sequence[InterestSpec],
    *,
    now: dt.datetime,
    config: MatchConfig | None = None,
    reference: Sequence[PaperDoc] = (),
    encoder: Encoder | None = None,
) -> list[MatchResult]:
    found = match_subscriptions(
        papers,
        Subscriptions.of(interests),
        now=now,
        config=config or MatchConfig(),
        reference=reference,
        encoder=encoder,
    )
    return found.results()


def match_subscriptions(
    papers: Sequence[PaperDoc],
    subscriptions: Subscriptions,
    *,
    now: dt.datetime,
    config: MatchConfig,
    reference: Sequence[PaperDoc] = (),
    encoder: Encoder | None = None,
    text_vectors: Mapping[str, np.ndarray] | None = None,
) -> Matched:
    """Match ``papers`` against every subscription. ``reference`` (the window) and ``papers``
    together give the rarity statistics. Descriptions use embeddings when an encoder or their
    vectors are given, words otherwise."""
    clock = _Clock()
    seen = {p.id for p in papers}
    others = [p for p in reference if p.id not in seen]
    known = acronyms.learn(p.summary for p in [*papers, *others])
    percolator, invalid = index_for(subscriptions, known)
    clock.lap("index")
    docs = percolator.scan(papers)
    extra = percolator.scan(others)
    stats = CorpusStats.of([*docs, *extra])
    clock.lap("scan")
    semantic = bool(percolator.descriptions) and (encoder is not None or text_vectors is not None)
    rows = _window_vectors(papers, others, encoder)
    described = DescriptionScores()
    if percolator.descriptions:
        vectors = None
        if semantic:
            targets = rows[: len(papers)] if rows is not None else _paper_vectors(papers, None)
            every = rows if rows is not None else targets
            by_text = _description_vectors(percolator, encoder, text_vectors)
            vectors = (targets, every, by_text)
        described = score_descriptions(percolator.descriptions, docs, stats, config, vectors)
    clock.lap("descriptions")
    hits = percolator.match(docs, stats, described, config)
    clock.lap("match")
    phrases = phrases_of(subscriptions.values, subscriptions.negated)
    if rows is not None and any(phrases):
        found = _window_hits(hits, percolator, extra, len(papers), stats, config)
        hits = related_hits(hits, Window(rows, len(papers), *found), phrases, config.threshold)
        clock.lap("related")
    table = _fan_out(hits, papers, subscriptions, percolator, now, config)
    clock.lap("combine")
    return Matched(
        table, papers, len(subscriptions.values), invalid, len(percolator.descriptions),
        semantic, clock.laps,
    )  # fmt: skip


def _fan_out(
    hits: Hits,
    papers: Sequence[PaperDoc],
    subscriptions: Subscriptions,
    percolator: Percolator,
    now: dt.datetime,
    config: MatchConfig,
) -> MatchTable:
    boosts = np.array(
        [boost(p.upvotes, p.published_at or p.ingested_at, now, config) for p in papers]
    )
    keep: int | np.ndarray = config.keep_per_subscriber
    if subscriptions.limits is not None:
        keep = np.where(subscriptions.limits > 0, subscriptions.limits, keep)
    hits = top_per_interest(hits, boosts, _interest_limits(subscriptions, keep, percolator))
    return combine(hits, percolator.excluding, subscriptions.holders, boosts, keep)


_cache: dict[tuple[int, int, int], tuple[Percolator, int]] = {}


def index_for(subscriptions: Subscriptions, known: acronyms.Acronyms) -> tuple[Percolator, int]:
    """The index of these distinct interests: built once, and again only when the interests
    (or the acronyms the window defines) change; kept in the process between runs."""
    key = (
        hash(tuple(subscriptions.values)),
        hash(tuple(subscriptions.negated)),
        hash(frozenset(known.items())),
    )
    found = _cache.get(key)
    if found is None:
        compiled, invalid = _compile(subscriptions.values)
        found = (
            Percolator(list(zip(compiled, subscriptions.negated, strict=True)), known),
            invalid,
        )
        _cache.clear()
        _cache[key] = found
    return found


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 4)
        self._last = now


def _interest_limits(
    subscriptions: Subscriptions, keep: int | np.ndarray, percolator: Percolator
) -> np.ndarray:
    """Per interest: the largest digest among its holders, a margin for papers their
    exclusions remove; no limit for excluding interests."""
    holders = subscriptions.holders
    per_holder = (
        np.full(len(holders.subscribers), keep)
        if isinstance(keep, int)
        else keep[holders.subscribers]
    )
    limits = np.zeros(len(holders.indptr) - 1, dtype=np.int64)
    filled = np.flatnonzero(np.diff(holders.indptr) > 0)
    if len(per_holder):
        limits[filled] = np.maximum.reduceat(per_holder, holders.indptr[filled]) + EXCLUSION_MARGIN
    limits[np.array(percolator.excluding, dtype=bool)] = np.iinfo(np.int64).max
    return limits


def _compile(values: Sequence[str]) -> tuple[list[CompiledInterest], int]:
    compiled, invalid = [], 0
    for value in values:
        try:
            compiled.append(compile_text(value))
        except InterestSyntaxError as exc:
            log.warning("skipping an interest that does not parse: %r (%s)", value, exc)
            compiled.append(_NOTHING)
            invalid += 1
    return compiled, invalid


def _description_vectors(
    percolator: Percolator, encoder: Encoder | None, known: Mapping[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """Each distinct description embedded once (or taken from ``known``)."""
    vectors = dict(known or {})
    missing = sorted({t.text for _, t, _ in percolator.descriptions} - vectors.keys())
    if missing:
        if encoder is None:
            raise ValueError(f"no vector for {len(missing)} descriptions and no encoder")
        vectors.update(zip(missing, encoder.encode(missing), strict=True))
    return vectors


def _window_vectors(
    papers: Sequence[PaperDoc], others: Sequence[PaperDoc], encoder: Encoder | None
) -> np.ndarray | None:
    """The vectors of the papers then of the rest of the window, or None when there is no
    encoder and no paper has a stored vector (semantic matching is not in use)."""
    if encoder is None and not any(p.embedding for p in [*papers, *others]):
        return None
    return np.concatenate([_paper_vectors(papers, encoder), _paper_vectors(others, encoder)])


def _window_hits(
    hits: Hits,
    percolator: Percolator,
    extra: Sequence[DocHits],
    offset: int,
    stats: CorpusStats,
    config: MatchConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word matches over the whole window: the papers matched, then the rest (at ``offset``)."""
    if not extra:
        return hits.interest, hits.paper, hits.score
    rest = percolator.match(extra, stats, DescriptionScores(), config)
    return (
        np.concatenate([hits.interest, rest.interest]),
        np.concatenate([hits.paper, rest.paper + offset]),
        np.concatenate([hits.score, rest.score]),
    )


def _paper_vectors(papers: Sequence[PaperDoc], encoder: Encoder | None) -> np.ndarray:
    """Stored vectors; papers without one are embedded now when an encoder is at hand, and
    otherwise left at zero (matched by words)."""
    rows = np.zeros((len(papers), DIMENSIONS), dtype=np.float32)
    missing = []
    for row, paper in enumerate(papers):
        vector = unpack(paper.embedding, paper_text(paper.title, paper.summary))
        if vector is None:
            missing.append(row)
        else:
            rows[row] = vector
    if missing and encoder is not None:
        texts = [paper_text(papers[i].title, papers[i].summary) for i in missing]
        rows[missing] = encoder.encode(texts)
    return rows
