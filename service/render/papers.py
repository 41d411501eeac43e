"""One paper as the digest shows it, from plain paper data: cleaned fields, safe links,
highlighted matched words, and its block of the plain-text part.

The part that does not depend on the subscriber (cleaning, links, wrapping at 78 columns) is
computed once per paper and process and cached, since every digest of an edition shows the
same papers; why it matched and the highlighted words are added per message.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import lru_cache

from service.render.highlight import reason_segments, segments, terms_from_reasons
from service.render.links import safe_url
from service.render.text import authors_line, cut_abstract, one_line, wrap
from service.render.views import Link, PaperCard, PaperView, Segment

INDENT = "    "
MAX_REASONS = 3
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,31}$")
_KEYS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Prepared:
    view: PaperView  # without reasons
    head: str  # text lines from the title to the abstract
    links: str  # text lines listing the links


def _stats(card: PaperCard) -> str:
    stats = []
    if card.upvotes > 0:
        stats.append(f"▲ {card.upvotes} upvote{'s' if card.upvotes != 1 else ''}")
    if card.num_comments > 0:
        stats.append(f"{card.num_comments} comment{'s' if card.num_comments != 1 else ''}")
    return " · ".join(stats)


def _links(card: PaperCard, hosts: Collection[str]) -> tuple[Link, ...]:
    pairs = (
        ("Abstract", card.abs_url),
        ("PDF", card.pdf_url),
        ("Hugging Face", card.hf_url),
        ("Code", card.code_url),
    )
    return tuple(Link(label, url) for label, raw in pairs if (url := safe_url(raw, hosts)))


_CACHE: dict[tuple[object, ...], _Prepared] = {}
CACHE_SIZE = 4096


def clear_cache() -> None:
    """Forget every paper and reason seen (the state of a fresh worker process)."""
    from service.render import env, highlight

    _CACHE.clear()
    _why.cache_clear()
    highlight.segments.cache_clear()
    highlight.term_index.cache_clear()
    highlight._words.cache_clear()
    env._FRAGMENTS.clear()


def _prepared(card: PaperCard, use_ai: bool, hosts: tuple[str, ...]) -> _Prepared:
    """The cached part, keyed by everything of the card but its reasons."""
    key = (
        card.arxiv_id, card.title, card.summary, card.authors, card.affiliations,
        card.categories, card.abs_url, card.pdf_url, card.hf_url, card.code_url,
        card.organization, card.ai_summary, card.upvotes, card.num_comments, use_ai, hosts,
    )  # fmt: skip
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.clear()
        hit = _CACHE[key] = _prepare(card, use_ai, hosts)
    return hit


def _prepare(card: PaperCard, use_ai: bool, hosts: tuple[str, ...]) -> _Prepared:
    links = _links(card, hosts)
    title = one_line(card.title, 300) or f"arXiv:{one_line(card.arxiv_id, 40)}"
    ai = bool(use_ai and card.ai_summary and card.ai_summary.strip())
    abstract = cut_abstract((card.ai_summary if ai else card.summary) or "")
    affiliations = ", ".join(dict.fromkeys(a for a in map(one_line, card.affiliations) if a))
    view = PaperView(
        title=title,
        url=links[0].url if links else "",
        authors=authors_line(card.authors),
        affiliations=one_line(affiliations or card.organization or "", 200),
        categories=", ".join(c for c in card.categories[:4] if _CATEGORY.match(c)),
        stats=_stats(card),
        abstract=abstract,
        summary_label="AI summary" if ai else "",
        links=links,
        reason="",
        title_parts=(Segment(title),),
        abstract_parts=(Segment(abstract),) if abstract else (),
        reason_parts=(),
        text_block="",
        key=next(_KEYS),
    )
    head, link_lines = _text_parts(view)
    return _Prepared(replace(view, text_block=_join(head, "", link_lines)), head, link_lines)


def _text_parts(view: PaperView) -> tuple[str, str]:
    """The paper's text lines. The first line has no indent: the template puts the paper's
    number ("NN. ", four columns) in front of it."""
    lines = [wrap(view.title, INDENT)[len(INDENT) :]]
    lines += [wrap(line, INDENT) for line in (view.authors, view.affiliations, view.meta) if line]
    if view.abstract:
        label = f"{view.summary_label}: " if view.summary_label else ""
        lines += ["", wrap(label + view.abstract, INDENT)]
    width = max((len(link.label) for link in view.links), default=0) + 2
    links = [f"{INDENT}{(link.label + ':').ljust(width)}{link.url}" for link in view.links]
    return "\n".join(lines), "\n".join(links)


def _join(head: str, why: str, links: str) -> str:
    tail = "\n".join(x for x in (why, links) if x)
    return f"{head}\n\n{tail}" if tail else head


@lru_cache(maxsize=8192)  # readers who follow the same interest get the same reasons
def _why(reasons: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[Segment, ...], str] | None:
    """The reason line, its terms, its highlighted runs and its wrapped text-part line."""
    shown = tuple(r for r in (one_line(x, 160) for x in reasons) if r)
    if not shown:
        return None
    reason = "; ".join(shown)
    why = wrap(f"Why you got this: {reason}", INDENT)
    return reason, terms_from_reasons(shown), reason_segments(shown), why


def paper_view(
    card: PaperCard,
    use_ai_summary: bool = False,
    extra_hosts: Collection[str] = (),
    with_reason: bool = True,
) -> PaperView:
    """The paper for one subscriber: the cached part plus why it matched, words highlighted."""
    prepared = _prepared(card, use_ai_summary, tuple(sorted(extra_hosts)) if extra_hosts else ())
    why = _why(tuple(card.reasons[:MAX_REASONS])) if with_reason and card.reasons else None
    if why is None:
        return prepared.view
    base = prepared.view
    reason, terms, reason_parts, why_text = why
    # One constructor call: dataclasses.replace costs more than the rest of this function.
    return PaperView(
        base.title,
        base.url,
        base.authors,
        base.affiliations,
        base.categories,
        base.stats,
        base.abstract,
        base.summary_label,
        base.links,
        reason,
        segments(base.title, terms),
        segments(base.abstract, terms),
        reason_parts,
        _join(prepared.head, why_text, prepared.links),
        base.key,
    )
