"""View values the templates see (StrictUndefined: a missing field is an error, not a blank).

Every string here is plain text: the HTML templates autoescape it, the text templates print it.
Highlighted words are ``Segment`` runs, so a template marks them without ever trusting markup.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text; ``mark`` says whether it is a matched word to highlight."""

    text: str
    mark: bool = False


@dataclass(frozen=True, slots=True)
class PaperView:
    title: str
    url: str  # the title links here (abstract page); "" when the paper has no safe link
    authors: str  # "A, B, C, D et al." or ""
    affiliations: str  # affiliations, or the HF organization, or ""
    categories: str  # "cs.LG, cs.CL"
    stats: str  # "▲ 59 upvotes · 3 comments" or ""
    abstract: str  # cut at a sentence boundary
    summary_label: str  # "" for the abstract, "AI summary" when the AI summary is shown
    links: tuple[Link, ...]
    reason: str  # "why you got this", empty for trending papers
    title_parts: tuple[Segment, ...]
    abstract_parts: tuple[Segment, ...]
    reason_parts: tuple[Segment, ...]
    text_block: str  # the paper in the plain-text part, wrapped at 78 columns, links listed
    # Identifies the reader-independent part (same for every reader's view of this paper in
    # this process), so templates can render that part once; 0 means "do not cache".
    key: int = 0

    @property
    def meta(self) -> str:
        return " · ".join(x for x in (self.categories, self.stats) if x)


@dataclass(frozen=True, slots=True)
class Footer:
    """What every mail ends with: why the reader gets it, and what they can do about it."""

    reason: str
    preferences_url: str  # "" for mails without a subscriber
    unsubscribe_url: str  # "" for transactional mails
    postal_address: str
    sender_name: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str  # "For you", "Trending today"
    papers: tuple[PaperView, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    subject: str
    preheader: str
    lang: str
    direction: str  # "ltr" or "rtl"
    edition_label: str  # "Thursday 27 November 2026", in the subscriber's time zone
    summary_line: str  # "7 new papers for you, 3 trending today"
    for_you: tuple[PaperView, ...]
    trending: tuple[PaperView, ...]
    empty_note: str  # shown when both sections are empty
    footer: Footer

    @property
    def sections(self) -> tuple[Section, ...]:
        pairs = (("For you", self.for_you), ("Trending today", self.trending))
        return tuple(Section(title, papers) for title, papers in pairs if papers)


@dataclass(frozen=True, slots=True)
class NoticeView:
    """Confirm, welcome, goodbye, account notices and operator alerts."""

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
    reason: str = ""
    lang: str = "en"
    direction: str = "ltr"

    @property
    def footer(self) -> Footer:
        return Footer(
            self.reason,
            self.preferences_url,
            self.unsubscribe_url,
            self.postal_address,
            self.sender_name,
        )


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    # The one-click URL and mailto the body links to; the composer puts exactly these in
    # List-Unsubscribe, so header and body cannot disagree (D01). Empty for transactional mail.
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""


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
