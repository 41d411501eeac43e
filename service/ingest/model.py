"""The values every source parser produces: RawPaper items and a ParseResult per payload."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    affiliations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RawPaper:
    """One paper as a source saw it. ``None`` means "this source does not know"."""

    arxiv_id: str  # canonical: no version, no prefix
    title: str
    source: str  # hf, arxiv, rss, file
    summary: str = ""
    version: int | None = None
    authors: tuple[Author, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    hf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    organization: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    upvotes: int | None = None
    num_comments: int | None = None
    github_stars: int | None = None
    published_at: dt.datetime | None = None
    trending_date: dt.date | None = None
    source_id: str | None = None
    update_only: bool = False  # an RSS "replace": refresh an existing paper, never insert one
    announce_type: str | None = None  # arXiv announcement feeds: new, cross, replace, ...


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parser kept, what it rejected (``errors``: bad items) and what it left out on
    purpose (``skipped``: withdrawn papers...), each with a reason naming the item."""

    papers: list[RawPaper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    total: int | None = None  # what the source says it has in all (arXiv API paging)

    def extend(self, other: ParseResult) -> None:
        self.papers.extend(other.papers)
        self.errors.extend(other.errors)
        self.skipped.extend(other.skipped)


class PayloadError(ValueError):
    """The whole payload is unusable (truncated JSON, hostile XML, wrong format)."""
