"""View values the templates see (StrictUndefined: a missing field is an error, not a blank)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class PaperView:
    title: str
    url: str
    authors: str
    affiliations: str
    categories: str
    stats: str  # "▲ 59 upvotes · 3 comments" or ""
    abstract: str
    links: tuple[Link, ...]
    reason: str  # "why you got this", empty for trending papers


@dataclass(frozen=True, slots=True)
class DigestView:
    subject: str
    preheader: str
    edition_label: str  # "Thursday 27 November 2026", in the subscriber's time zone
    for_you: tuple[PaperView, ...]
    trending: tuple[PaperView, ...]
    why_line: str  # why the reader gets this mail
    unsubscribe_url: str
    preferences_url: str
    postal_address: str
    sender_name: str


@dataclass(frozen=True, slots=True)
class NoticeView:
    """Confirm, welcome, goodbye and other short account mails."""

    subject: str
    preheader: str
    heading: str
    paragraphs: tuple[str, ...]
    action_label: str
    action_url: str
    unsubscribe_url: str
    preferences_url: str
    postal_address: str
    sender_name: str


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class PaperCard:
    """A stored paper as plain data, with why it was chosen; the input of a digest."""

    arxiv_id: str
    title: str
    summary: str
    authors: tuple[str, ...]
    affiliations: tuple[str, ...]
    categories: tuple[str, ...]
    abs_url: str | None
    pdf_url: str | None
    hf_url: str | None
    code_url: str | None
    organization: str | None
    ai_summary: str | None
    upvotes: int
    num_comments: int
    reasons: tuple[str, ...] = ()
