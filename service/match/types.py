"""Values the match stage takes and gives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PaperDoc:
    id: int
    arxiv_id: str
    title: str
    summary: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    upvotes: int = 0
    published_at: dt.datetime | None = None
    ingested_at: dt.datetime | None = None
    abs_url: str | None = None
    embedding: bytes | None = None  # stored vector (see service.match.semantic.pack)


@dataclass(frozen=True, slots=True)
class InterestSpec:
    id: int
    subscriber_id: int
    value: str
    weight: float = 1.0
    negated: bool = False  # exclude what this interest matches from the subscriber's papers


@dataclass(frozen=True, slots=True)
class MatchResult:
    subscriber_id: int
    paper_id: int
    score: float
    reasons: tuple[str, ...]
