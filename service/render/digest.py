"""The digest and notice views from plain data, and their rendering (subject, text, HTML).

Pure functions: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from service.render.env import html_env, text_env
from service.render.highlight import terms_from_reasons
from service.render.papers import paper_view
from service.render.text import one_line, wrap_text
from service.render.views import DigestView, Footer, NoticeView, PaperCard, PaperView, RenderedEmail

SUBJECT_MAX = 77
TOPIC_MAX = 24
PREHEADER_MAX = 150


@dataclass(frozen=True, slots=True)
class Edition:
    """The edition a digest belongs to, in the subscriber's time zone."""

    day: dt.date
    weekly: bool = False

    @property
    def label(self) -> str:
        if self.weekly:
            monday = self.day - dt.timedelta(days=self.day.weekday())
            return f"Week of {monday:%A} {monday.day} {monday:%B %Y}"
        return f"{self.day:%A} {self.day.day} {self.day:%B %Y}"

    @property
    def short(self) -> str:
        if self.weekly:
            monday = self.day - dt.timedelta(days=self.day.weekday())
            return f"week of {monday.day} {monday:%b}"
        return f"{self.day:%a} {self.day.day} {self.day:%b}"


def subject_topics(cards: Sequence[PaperCard]) -> list[str]:
    """The matched terms and categories of the digest, most frequent first."""
    counts: Counter[str] = Counter()
    for card in cards:
        terms = list(terms_from_reasons(card.reasons))
        terms += [r.split(" ", 1)[1] for r in card.reasons if r.startswith("category ")]
        for term in dict.fromkeys(t.strip() for t in terms):
            topic = one_line(term, TOPIC_MAX)
            if topic:
                counts[topic] += 1
    return [topic for topic, _ in counts.most_common()]


def digest_subject(
    n_for_you: int, trending: Sequence[PaperView], topics: Sequence[str], edition: Edition
) -> str:
    """Under 78 characters, from the content; never all caps, never a fake Re:."""
    tail = f" · {edition.short}"
    if n_for_you:
        noun = f"{n_for_you} new paper{'s' if n_for_you != 1 else ''}"
        for shown in range(min(3, len(topics)), 0, -1):
            subject = f"{noun} on {_listing(topics[:shown], len(topics) > shown)}{tail}"
            if len(subject) <= SUBJECT_MAX:
                return _not_shouting(subject)
        return f"{noun} for you{tail}"
    if trending:
        rest = f" and {len(trending) - 1} more" if len(trending) > 1 else ""
        room = SUBJECT_MAX - len("Trending: ") - len(rest) - len(tail)
        return _not_shouting(f"Trending: {_shorten(trending[0].title, room)}{rest}{tail}")
    return f"No new papers this time{tail}"


def _listing(items: Sequence[str], more: bool) -> str:
    if more:
        return ", ".join(items) + " and more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _shorten(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    cut = text.rfind(" ", 0, room - 1)
    return text[: cut if cut > room // 2 else room - 1].rstrip(" ,:;") + "…"


def _not_shouting(subject: str) -> str:
    letters = [c for c in subject if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        return subject[:1] + subject[1:].lower()
    return subject


def summary_line(n_for_you: int, n_trending: int) -> str:
    parts = []
    if n_for_you:
        parts.append(f"{n_for_you} new paper{'s' if n_for_you != 1 else ''} for you")
    if n_trending:
        parts.append(f"{n_trending} trending today")
    return ", ".join(parts) if parts else "nothing new this time"


def digest_preheader(for_you: Sequence[PaperView], trending: Sequence[PaperView]) -> str:
    if for_you:
        first, rest = f"Top pick: {for_you[0].title}", len(for_you) - 1
        extra = f" · {rest} more for you" if rest else ""
        extra += f" · {len(trending)} trending" if trending else ""
    elif trending:
        first, extra = f"Most upvoted today: {trending[0].title}", ""
        extra = f" · {len(trending) - 1} more trending" if len(trending) > 1 else ""
    else:
        return "Nothing new matched your interests this time."
    return _shorten(first, PREHEADER_MAX - len(extra)) + extra


def build_digest(
    edition: Edition,
    for_you: Sequence[PaperCard],
    trending: Sequence[PaperCard],
    footer: Footer,
    *,
    use_ai: bool = False,
    hosts: Collection[str] = (),
) -> DigestView:
    mine = tuple(paper_view(c, use_ai, hosts) for c in for_you)
    hot = tuple(paper_view(c, use_ai, hosts, with_reason=False) for c in trending)
    return DigestView(
        subject=digest_subject(len(mine), hot, subject_topics(for_you), edition),
        preheader=digest_preheader(mine, hot),
        lang="en",
        direction="ltr",
        edition_label=edition.label,
        summary_line=summary_line(len(mine), len(hot)),
        for_you=mine,
        trending=hot,
        empty_note="Nothing new matched your interests this time. Your next digest comes as usual.",
        footer=footer,
    )


def _render(name: str, view: DigestView | NoticeView, mailto: str) -> RenderedEmail:
    context = {"v": view}
    html = html_env().get_template(f"email/{name}/body.html").render(context)
    text = text_env().get_template(f"email/{name}/body.txt").render(context)
    subject = text_env().get_template(f"email/{name}/subject.txt").render(context)
    return RenderedEmail(
        subject=one_line(subject, 200),
        text=wrap_text(text),
        html=html,
        unsubscribe_url=view.footer.unsubscribe_url,
        unsubscribe_mailto=mailto if view.footer.unsubscribe_url else "",
    )


def render_digest(view: DigestView, unsubscribe_mailto: str = "") -> RenderedEmail:
    return _render("digest", view, unsubscribe_mailto)


def render_notice(name: str, view: NoticeView, unsubscribe_mailto: str = "") -> RenderedEmail:
    return _render(name, view, unsubscribe_mailto)
