"""Every rendered digest parses back with the right structure, headers and equal parts, for
many subscriber shapes (RELIABILITY.md 6.1: D01-D09, D13-D17)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from service.render.digest import Edition
from service.render.views import PaperCard
from tests.render.samples import check_message, digest_message, real_cards, with_reasons

CARDS = with_reasons(real_cards())
TRENDING = sorted(real_cards(), key=lambda c: -c.upvotes)[:3]


def blank(arxiv_id: str, **fields: object) -> PaperCard:
    base = PaperCard(
        arxiv_id=arxiv_id, title="Untitled", summary="", authors=(), affiliations=(),
        categories=(), abs_url=None, pdf_url=None, hf_url=None, code_url=None,
        organization=None, ai_summary=None, upvotes=0, num_comments=0,
    )  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


NON_LATIN = [
    blank(
        "2601.00001",
        title="大规模语言模型的高效推理 Efficient inference for large language models",
        summary="我们提出一种新方法。It cuts latency by half. Результаты подтверждают это.",
        authors=("王小明", "Иван Петров", "محمد علي", "José Núñez-García", "Zoë Ødegård"),
        affiliations=("清华大学", "Université de Montréal"),
        categories=("cs.CL",),
        abs_url="https://arxiv.org/abs/2601.00001",
        reasons=("“inference” in title",),
    ),
    blank(
        "2601.00002",
        title="نموذج لغوي عربي كبير: Arabic LLM evaluation",
        summary="نقدم تقييماً شاملاً. We evaluate 12 models on 9 tasks.",
        authors=("فاطمة الزهراء", "Yūki Tanaka 田中"),
        hf_url="https://huggingface.co/papers/2601.00002",
        upvotes=12,
        num_comments=3,
        reasons=("“evaluation” in title",),
    ),
]
LONG_TITLES = [replace(c, title=(c.title + " ") * 8, summary=c.summary * 20) for c in CARDS[:3]] + [
    replace(CARDS[3], title="Supercalifragilistic" * 12)
]
BARE = [
    blank("2601.00003", title="A paper with nothing else"),
    blank("2601.00004", title="Only authors", authors=("Ada Lovelace",)),
    blank("2601.00005", title="Only an abstract", summary="It says one thing. Then another."),
]

SHAPES: dict[str, tuple[list[PaperCard], list[PaperCard]]] = {
    "no interests, trending only": ([], TRENDING),
    "few matches": (CARDS[:3], TRENDING),
    "many matches": (CARDS[:30], TRENDING),
    "matches, no trending": (CARDS[:7], []),
    "nothing at all": ([], []),
    "long titles and abstracts": (LONG_TITLES, []),
    "non-Latin names and titles": (NON_LATIN, TRENDING[:1]),
    "papers without abstract, authors or links": (BARE, []),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_parses_back_complete_and_consistent(shape: str) -> None:
    for_you, trending = SHAPES[shape]
    raw, rendered = digest_message(for_you, trending)
    view_titles = [" ".join(c.title.split())[:60] for c in [*for_you, *trending]]
    check_message(raw, rendered, view_titles)


def test_sections_and_the_footer_are_where_a_reader_looks() -> None:
    _raw, rendered = digest_message(CARDS[:2], TRENDING)
    text = rendered.text
    assert text.index("FOR YOU") < text.index("TRENDING TODAY") < text.index("Unsubscribe:")
    assert text.splitlines()[0].startswith("Top pick: ")
    assert "Why you got this:" in text and "1 Example Street" in text
    assert '<h2 style="' in rendered.html and "For you</h2>" in rendered.html
    assert 'lang="en" dir="ltr"' in rendered.html and "<title>" in rendered.html
    assert rendered.html.index("Top pick:") < rendered.html.index("<h1")  # the preheader


def test_ai_summary_preference_changes_the_abstract() -> None:
    card = next(c for c in CARDS if c.ai_summary)
    _, plain = digest_message([card], [])
    raw, ai = digest_message([card], [], use_ai=True)
    assert "AI summary:" in ai.text and "AI summary:" not in plain.text
    check_message(raw, ai, [card.title[:40]])


def test_text_only_subscribers_get_one_plain_part() -> None:
    raw, rendered = digest_message(CARDS[:3], TRENDING, text_only=True)
    msg = check_message(raw, rendered, [c.title[:40] for c in CARDS[:3]])
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()


def test_weekly_digest_says_which_week() -> None:
    raw, rendered = digest_message(CARDS[:2], [], edition=Edition(dt.date(2026, 11, 27), True))
    assert "Week of Monday 23 November 2026" in rendered.text
    assert rendered.subject.endswith("· week of 23 Nov")
    check_message(raw, rendered, [])


def test_html_stays_well_under_gmail_clipping_with_many_papers() -> None:
    _, rendered = digest_message(CARDS[:30], TRENDING)
    assert len(rendered.html.encode()) < 90_000
