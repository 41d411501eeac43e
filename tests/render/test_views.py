"""The view values: abstracts, authors, highlighted words, links, subjects, preheaders."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from service.render.digest import (
    Edition,
    build_digest,
    digest_preheader,
    digest_subject,
    subject_topics,
)
from service.render.highlight import reason_segments, segments, terms_from_reasons
from service.render.links import own_url, safe_url
from service.render.papers import paper_view
from service.render.text import authors_line, cut_abstract, one_line, wrap, wrap_text
from tests.render.samples import EDITION, FOOTER, real_cards, with_reasons


def marked(text: str, terms: tuple[str, ...]) -> list[str]:
    return [s.text for s in segments(text, terms) if s.mark]


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        ("GANs beat the organ of GAN-based began", ("GAN",), ["GANs", "GAN"]),
        (
            "Self-supervised and self supervised",
            ("self-supervised",),
            ["Self-supervised", "self supervised"],
        ),
        ("Vision Transformers for vision", ("vision transformer",), ["Vision Transformers"]),
        ("Mamba-2 and mamba models", ("mamba",), ["Mamba", "mamba"]),
        ("CTR prediction, not contrastive", ("CTR",), ["CTR"]),
        ("nothing here", ("diffusion",), []),
        ("Diffusion <script>alert(1)</script>", ("diffusion",), ["Diffusion"]),
    ],
)
def test_highlight_marks_whole_words_and_inflections(
    text: str, terms: tuple[str, ...], expected: list[str]
) -> None:
    assert marked(text, terms) == expected
    assert "".join(s.text for s in segments(text, terms)) == text  # nothing lost or added


def test_terms_come_from_the_quoted_parts_of_reasons() -> None:
    reasons = ["“mamba” in title", '"state space" in abstract', "category cs.LG", "“mamba” again"]
    assert terms_from_reasons(reasons) == ("mamba", "state space")
    runs = reason_segments(["“mamba” in title", "category cs.LG"])
    assert [(s.text, s.mark) for s in runs] == [
        ("“mamba”", True), (" in title; category cs.LG", False),
    ]  # fmt: skip


def test_abstract_is_cut_at_a_sentence_boundary() -> None:
    text = "First sentence is here. " * 30
    cut = cut_abstract(text)
    assert len(cut) <= 420 and cut.endswith("here.")
    assert cut_abstract("Short one.") == "Short one."
    assert (
        cut_abstract("We follow e.g. Smith et al. Then more. " * 20).count("e.g. Smith et al.") >= 1
    )
    one_long = cut_abstract("word " * 500)
    assert one_long.endswith("…") and len(one_long) < 440
    assert len(cut_abstract("x" * 100_000)) < 440


def test_authors_are_cut_with_et_al() -> None:
    assert authors_line(["A", "B"]) == "A, B"
    assert authors_line(["A", "B", "C", "D"]) == "A, B, C, D"
    assert authors_line(["A", "B", "C", "D", "E"]) == "A, B, C et al."
    assert authors_line([" ", "\u202eEvil\u202c"]) == "Evil"


def test_one_line_removes_controls_bidi_and_breaks() -> None:
    assert one_line("a\r\nb\u202ec\u2066d\x00e\u200bf  g\u2028h") == "a bcdef g h"
    assert one_line("x" * 50, 10).endswith("…")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://arxiv.org/abs/2405.18407", "https://arxiv.org/abs/2405.18407"),
        ("http://arxiv.org/pdf/2405.18407", "https://arxiv.org/pdf/2405.18407"),
        ("https://huggingface.co/papers/2405.18407", "https://huggingface.co/papers/2405.18407"),
        ("https://github.com/org/repo", "https://github.com/org/repo"),
        ("https://someone.github.io/project/", "https://someone.github.io/project/"),
        ("javascript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("https://evil.example/phish", ""),
        ("https://arxiv.org@evil.example/", ""),
        ("https://arxiv.org.evil.example/", ""),
        ("https://arxiv.org:8443/abs/1", ""),
        ("https://arxiv.org/abs/1\r\nBcc: x", ""),
        ("https://arxiv.org/abs/\u202e1", ""),
        ("  https://arxiv.org/abs/1  ", "https://arxiv.org/abs/1"),
        ("https://github.com/o/r?a=1&b=<x>", "https://github.com/o/r?a=1&b=%3Cx%3E"),
        (None, ""),
    ],
)
def test_only_https_links_to_known_hosts_survive(raw: str | None, expected: str) -> None:
    assert safe_url(raw) == expected


def test_extra_hosts_and_own_urls() -> None:
    assert safe_url("https://lab.example/p", ["lab.example"]) == "https://lab.example/p"
    base = "https://paperpost.example"
    assert own_url("https://paperpost.example/confirm/abc", base)
    assert own_url("https://paperpost.example.evil/confirm", base) == ""
    assert own_url("javascript:alert(1)", base) == ""


def test_wrap_keeps_every_line_within_78_columns() -> None:
    text = wrap("word " * 100, "    ")
    assert all(len(line) <= 78 and line.startswith("    ") for line in text.splitlines())
    long_url = "https://arxiv.org/" + "x" * 100
    assert wrap_text(f"see {long_url} now\n").splitlines()[1] == long_url


def test_paper_view_shows_reasons_and_shared_parts() -> None:
    card = real_cards()[0]
    base = paper_view(card)
    mine = paper_view(replace(card, reasons=("“consistency” in title",)))
    assert base.reason == "" and mine.reason == "“consistency” in title"
    assert mine.key == base.key != 0  # the reader-independent part is shared
    assert any(s.mark and s.text.lower() == "consistency" for s in mine.title_parts)
    assert "Why you got this: “consistency” in title" in mine.text_block
    assert [link.label for link in base.links] == ["Abstract", "PDF", "Hugging Face"]


def test_ai_summary_when_preferred() -> None:
    card = next(c for c in real_cards() if c.ai_summary)
    view = paper_view(card, use_ai_summary=True)
    assert view.summary_label == "AI summary" and view.abstract == cut_abstract(
        card.ai_summary or ""
    )
    assert "AI summary: " in view.text_block


def test_subject_names_topics_and_stays_short() -> None:
    cards = with_reasons(real_cards())[:7]
    topics = subject_topics(cards)
    view = build_digest(EDITION, cards, [], FOOTER)
    assert view.subject.startswith("7 new papers on ") and view.subject.endswith("· Fri 27 Nov")
    assert len(view.subject) < 78 and topics[0] in view.subject
    long_topics = ["a" * 24, "b" * 24, "c" * 24, "d" * 24]
    subject = digest_subject(3, (), long_topics, EDITION)
    assert len(subject) < 78 and subject.startswith("3 new papers on")
    assert digest_subject(1, (), ["mamba"], EDITION) == "1 new paper on mamba · Fri 27 Nov"
    assert (
        digest_subject(2, (), ["mamba", "ssm"], EDITION)
        == "2 new papers on mamba and ssm · Fri 27 Nov"
    )
    assert digest_subject(0, (), [], EDITION) == "No new papers this time · Fri 27 Nov"


def test_subject_for_trending_only_and_never_all_caps() -> None:
    hot = build_digest(EDITION, [], real_cards()[:3], FOOTER)
    assert hot.subject.startswith("Trending: ") and "and 2 more" in hot.subject
    assert len(hot.subject) < 78
    shouting = digest_subject(2, (), ["LLM", "GAN"], EDITION)
    assert shouting == "2 new papers on LLM and GAN · Fri 27 Nov"
    caps = build_digest(EDITION, [], [replace(real_cards()[0], title="FREE MONEY NOW")], FOOTER)
    assert not caps.subject.isupper()


def test_weekly_edition_labels() -> None:
    week = Edition(dt.date(2026, 11, 27), weekly=True)
    assert week.label == "Week of Monday 23 November 2026" and week.short == "week of 23 Nov"


def test_preheader_summarises_the_digest() -> None:
    cards = with_reasons(real_cards())
    view = build_digest(EDITION, cards[:5], cards[5:8], FOOTER)
    assert view.preheader.startswith(f"Top pick: {view.for_you[0].title}")
    assert "4 more for you · 3 trending" in view.preheader
    assert digest_preheader((), ()) == "Nothing new matched your interests this time."
