"""Build the digest view from plain paper data and render subject, text and HTML."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Sequence

import css_inline

from service.render.env import html_env, text_env
from service.render.views import DigestView, Link, NoticeView, PaperCard, PaperView, RenderedEmail

ABSTRACT_CHARS = 420
MAX_AUTHORS = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_inliner = css_inline.CSSInliner(keep_style_tags=False)


def cut_abstract(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """The abstract cut at a sentence boundary near ``limit`` characters."""
    if len(text) <= limit:
        return text
    sentences, out = _SENTENCE_END.split(text), ""
    for sentence in sentences:
        if out and len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}".strip()
    if len(out) > limit * 1.5:
        out = out[: out.rfind(" ", 0, limit)] + " …"
    return out


def authors_line(authors: Sequence[str]) -> str:
    if len(authors) <= MAX_AUTHORS:
        return ", ".join(authors)
    return ", ".join(authors[:MAX_AUTHORS]) + " et al."


def paper_view(card: PaperCard, use_ai_summary: bool = False) -> PaperView:
    stats = []
    if card.upvotes:
        stats.append(f"▲ {card.upvotes} upvote{'s' if card.upvotes != 1 else ''}")
    if card.num_comments:
        stats.append(f"{card.num_comments} comment{'s' if card.num_comments != 1 else ''}")
    summary = card.ai_summary if use_ai_summary and card.ai_summary else card.summary
    links = [
        Link(label, url)
        for label, url in (
            ("Abstract", card.abs_url),
            ("PDF", card.pdf_url),
            ("Hugging Face", card.hf_url),
            ("Code", card.code_url),
        )
        if url
    ]
    affiliations = ", ".join(dict.fromkeys(card.affiliations)) or (card.organization or "")
    return PaperView(
        title=card.title,
        url=card.abs_url or card.hf_url or "",
        authors=authors_line(card.authors),
        affiliations=affiliations,
        categories=", ".join(card.categories[:4]),
        stats=" · ".join(stats),
        abstract=cut_abstract(summary),
        links=tuple(links),
        reason="; ".join(card.reasons[:3]),
    )


def digest_subject(
    for_you: Sequence[PaperCard], trending: Sequence[PaperCard], day: dt.date
) -> str:
    date = f"{day:%a} {day.day} {day:%b}"
    if not for_you:
        return f"{len(trending)} trending papers · {date}"
    n = len(for_you)
    return f"{n} new paper{'s' if n != 1 else ''} for you · {date}"


def render_digest(view: DigestView) -> RenderedEmail:
    context = {"d": view}
    html = html_env().get_template("email/digest/body.html").render(context)
    text = text_env().get_template("email/digest/body.txt").render(context)
    return RenderedEmail(subject=view.subject, text=wrap_text(text), html=_inliner.inline(html))


def render_notice(name: str, view: NoticeView) -> RenderedEmail:
    context = {"n": view}
    html = html_env().get_template(f"email/{name}/body.html").render(context)
    text = text_env().get_template(f"email/{name}/body.txt").render(context)
    subject = text_env().get_template(f"email/{name}/subject.txt").render(context).strip()
    return RenderedEmail(subject=subject, text=wrap_text(text), html=_inliner.inline(html))


def wrap_text(text: str, width: int = 78) -> str:
    """Wrap prose at 78 columns; lines that are URLs or indented lists stay whole."""
    out = []
    for line in text.splitlines():
        if len(line) <= width or "://" in line:
            out.append(line.rstrip())
            continue
        indent = re.match(r"\s*", line).group(0)  # type: ignore[union-attr]
        out.extend(textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent))
    return "\n".join(out).strip() + "\n"
