"""Text, link and identity hygiene: what a reader of the digest would see."""

from __future__ import annotations

import pytest

from service.ingest.clean import (
    clean_categories,
    clean_doi,
    clean_text,
    clean_title,
    clean_token,
    safe_url,
)
from service.ingest.ids import InvalidArxivId, find_arxiv_id, parse_arxiv_id


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("HuMo: Human-Centric Video Generation via Collaborative Multi-Modal\n  Conditioning",
         "HuMo: Human-Centric Video Generation via Collaborative Multi-Modal Conditioning"),
        ("  We derive\nthe   bound.\n", "We derive the bound."),
        ("improves by 12\\% and R\\&D, e.g.\\ this", "improves by 12% and R&D, e.g. this"),
        ("cost \\$5 for item \\#3 in set \\{a\\}", "cost $5 for item #3 in set {a}"),
        ("Dirk W\\\"ubben and {\\'E}mile", "Dirk Wübben and Émile"),
        ("$\\alpha$-divergence with $\\mathcal{O}(n^2)$", "$\\alpha$-divergence with $\\mathcal{O}(n^2)$"),
        ("if a<b and c>d then p<0.05", "if a<b and c>d then p<0.05"),
        ("Tom & Jerry &amp; friends", "Tom & Jerry & friends"),
        ("<b>Bold</b> <i>claim</i>", "Bold claim"),
        ("x<script>alert(1)</script>y", "x y"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ("&lt;img src=x onerror=alert(1)&gt;caption", "caption"),
        ("H<sub>2</sub>O <!-- hidden --> water", "H2O water"),
        ("Ünïcödé — 中文 stays", "Ünïcödé — 中文 stays"),
        ("e\u0301le\u0300ve", "élève"),
        ("bidi \u202eevil\u202c and nul\x00 and bell\x07", "bidi evil and nul and bell"),
        (None, ""),
        (42, ""),
    ],
)  # fmt: skip
def test_clean_text(raw: object, clean: str) -> None:
    assert clean_text(raw) == clean


def test_long_text_is_cut_at_a_word_with_a_mark() -> None:
    text = clean_text("word " * 10_000, limit=100)
    assert len(text) <= 101 and text.endswith("word…")


def test_absurd_lengths_are_refused_not_processed() -> None:
    with pytest.raises(ValueError, match="10,000,001 characters, over the 200,000 limit"):
        clean_text("a" * 10_000_001, hard=200_000)
    assert clean_title("t" * 5_000) == "t" * 1_000 + "…"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://github.com/midea-ai/SemaPLC", True),
        ("http://example.org/page?q=1#x", True),
        (" https://example.org ", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>", False),
        ("vbscript:x", False),
        ("//evil.example/x", False),
        ("https://", False),
        ("https://exa mple.org", False),
        ('https://example.org/"onmouseover="x', False),
        ("http://[::1", False),
        ("https://example.org/" + "a" * 3_000, False),
        (None, False),
    ],
)
def test_safe_url(url: object, kept: bool) -> None:
    assert (safe_url(url) is not None) is kept


def test_categories_dois_and_tokens() -> None:
    assert clean_categories(["cs.LG", "hep-th", "math.GT", "cs.LG", "cs LG", "x" * 40, 3]) == (
        "cs.LG", "hep-th", "math.GT",
    )  # fmt: skip
    assert clean_doi("https://doi.org/10.1145/3395363.3397376") == "10.1145/3395363.3397376"
    assert clean_doi("10.1002/(SICI)1097-4636(199812)") == "10.1002/(SICI)1097-4636(199812)"
    assert clean_doi("not a doi") is None and clean_doi('10.1000/"><script>') is None
    assert clean_token("6a866443db13816030683e91") == "6a866443db13816030683e91"
    assert clean_token("has space") is None and clean_token("x" * 200) is None


@pytest.mark.parametrize(
    ("raw", "canonical", "version"),
    [
        ("2401.01234v3", "2401.01234", 3),
        ("arXiv:2401.01234", "2401.01234", None),
        ("arxiv: 2401.01234", "2401.01234", None),
        ("https://arxiv.org/abs/2401.01234", "2401.01234", None),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", "2401.01234", 2),
        ("http://export.arxiv.org/abs/2401.01234", "2401.01234", None),
        ("https://huggingface.co/papers/2509.08519", "2509.08519", None),
        ("0704.0001", "0704.0001", None),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("HEP-TH/9901001v1", "hep-th/9901001", 1),
        ("math.gt/0309136", "math.GT/0309136", None),
        ("http://arxiv.org/abs/astro-ph/0601001v1", "astro-ph/0601001", 1),
    ],
)
def test_one_paper_many_spellings(raw: str, canonical: str, version: int | None) -> None:
    assert parse_arxiv_id(raw) == (canonical, version)


@pytest.mark.parametrize("raw", ["2413.00001", "2400.00001", "12345.6789", "arXiv:", "a" * 400])
def test_not_arxiv_ids(raw: str) -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(raw)


def test_ids_inside_text() -> None:
    assert find_arxiv_id("arXiv:2205.06398v2 Announce Type: cross ") == ("2205.06398", 2)
    assert find_arxiv_id("see cond-mat/0603029 for details") == ("cond-mat/0603029", None)
    assert find_arxiv_id("nothing here 1.2345") is None
