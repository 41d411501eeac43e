"""The pure parsers against the real samples and against hand-made shapes of every era."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from service.ingest import arxiv, files, hf, rss
from service.ingest.model import Author, PayloadError
from tests.conftest import SAMPLES
from tests.ingest import handmade

UTC = dt.UTC


# Hugging Face Daily Papers -----------------------------------------------------------------


def test_hf_2024_sample() -> None:
    result = hf.parse((SAMPLES / "hf_daily_papers_2024-05-29.json").read_bytes())
    assert (len(result.papers), result.errors, result.skipped) == (8, [], [])
    paper = result.papers[0]
    assert paper.arxiv_id == "2405.18407" and paper.source == "hf"
    assert paper.upvotes and paper.upvotes > 0 and paper.num_comments is not None
    assert paper.published_at == dt.datetime(2024, 5, 28, 17, 47, 19, tzinfo=UTC)
    assert paper.trending_date == dt.date(2024, 5, 29)  # the daily-papers day, not arXiv's
    assert paper.thumbnail_url and paper.thumbnail_url.startswith("https://")  # mediaUrl era
    assert all("\n" not in p.title and "  " not in p.summary for p in result.papers)


def test_hf_2025_sample() -> None:
    result = hf.parse((SAMPLES / "hf_daily_papers_2025-09-12.json").read_bytes())
    assert (len(result.papers), result.errors) == (15, [])
    humo = result.papers[0]
    assert humo.arxiv_id == "2509.08519"
    assert humo.title == (
        "HuMo: Human-Centric Video Generation via Collaborative Multi-Modal Conditioning"
    )
    assert humo.trending_date == dt.date(2025, 9, 12)
    assert humo.project_url == "https://phantom-video.github.io/HuMo/"
    assert humo.code_url and humo.code_url.startswith("https://github.com/")
    assert humo.source_id == "68c2624629b8ec9932cd09f4"
    assert humo.ai_summary and humo.ai_keywords
    assert humo.authors[0] == Author("Liyang Chen")
    assert humo.hf_url == "https://huggingface.co/papers/2509.08519"
    assert [p.upvotes for p in result.papers] == sorted(
        (p.upvotes for p in result.papers), reverse=True
    )


def test_hf_2026_shape() -> None:
    (paper,) = hf.parse(handmade.hf_body(handmade.hf_2026_item())).papers
    assert paper.organization == "Midea AI Research Center"
    assert paper.upvotes == 0  # zero is a count, not "unknown"
    assert paper.github_stars == 30 and paper.num_comments == 1
    assert paper.summary == "We study PLCs. It improves accuracy by 12% over e.g. baselines."
    assert paper.title == "SemaPLC: Semantic Programmable Logic Controllers & Agents"
    assert paper.trending_date == dt.date(2026, 8, 20)
    assert paper.published_at == dt.datetime(2026, 8, 19, tzinfo=UTC)
    assert paper.thumbnail_url and paper.thumbnail_url.endswith("2608.18565.png")
    assert [a.name for a in paper.authors] == ["Yanlun Tu", "Xin Ding"]


def test_hf_absent_optional_fields_and_bare_paper_objects() -> None:
    bare = {"id": "2401.00001v2", "title": "Bare", "authors": [{"name": "A", "hidden": True}]}
    minimal = {"paper": {"id": "2401.00002", "title": "Minimal"}}
    result = hf.parse(handmade.hf_body(bare, minimal))
    assert result.errors == []
    first, second = result.papers
    assert (first.arxiv_id, first.version, first.authors) == ("2401.00001", 2, ())
    assert second.upvotes is None and second.code_url is None and second.summary == ""


def test_hf_withdrawn_papers_are_dropped_with_a_reason() -> None:
    gone = handmade.hf_2026_item("2608.00001", withdrawnAt="2026-08-21T00:00:00.000Z")
    kept = handmade.hf_2026_item("2608.00002")
    result = hf.parse(handmade.hf_body(gone, kept))
    assert [p.arxiv_id for p in result.papers] == ["2608.00002"]
    assert result.skipped == ["2608.00001: withdrawn"]


def test_hf_bad_items_name_themselves_and_the_rest_is_kept() -> None:
    items = [
        {"paper": {"title": "no id"}},
        {"paper": {"id": "2401.00003"}},
        "not an object",
        {"paper": {"id": "not-an-id", "title": "x"}},
        handmade.hf_2026_item("2608.00004", summary="x" * 10_000_000),
        handmade.hf_2026_item("2608.00005", githubRepo="javascript:alert(1)",
                              title="<script>alert(1)</script><b>Bold</b> claim"),
    ]  # fmt: skip
    items[-1]["title"] = items[-1]["paper"]["title"]
    result = hf.parse(handmade.hf_body(*items))
    assert result.errors == [
        "item 1: missing paper.id",
        "item 2: 2401.00003: missing title",
        "item 3: not a JSON object",
        "item 4: not an arXiv id: 'not-an-id'",
        "item 5: 2608.00004: abstract is 10,000,000 characters, over the 200,000 limit",
    ]
    (paper,) = result.papers
    assert paper.title == "Bold claim" and paper.code_url is None


@pytest.mark.parametrize(
    "body", [b'[{"paper": {"id": "2401.00001", "title"', b"{}", b"\xff\xfe", b"null"]
)
def test_hf_unusable_payloads(body: bytes) -> None:
    with pytest.raises(PayloadError):
        hf.parse(body)


@pytest.mark.parametrize(
    ("args", "query"),
    [
        ((dt.date(2025, 9, 12), None, None), {"date": "2025-09-12"}),
        ((None, "2025-W37", None), {"week": "2025-W37"}),
        ((None, None, "2025-09"), {"month": "2025-09"}),
        ((None, None, None), {}),
    ],
)
def test_hf_periods(args: tuple[dt.date | None, str | None, str | None], query: dict) -> None:
    assert hf.period(*args) == query


@pytest.mark.parametrize(
    "args", [(None, "2025-37", None), (None, None, "2025-13"), (dt.date.today(), "2025-W01", None)]
)
def test_hf_bad_periods(args: tuple[dt.date | None, str | None, str | None]) -> None:
    with pytest.raises(ValueError):
        hf.period(*args)


# arXiv API -------------------------------------------------------------------------------


def test_arxiv_current_sample() -> None:
    result = arxiv.parse((SAMPLES / "arxiv_api_search_testing_start0_max10.xml").read_bytes())
    assert (len(result.papers), result.errors, result.total) == (10, [], 214881)
    paper = result.papers[0]
    assert (paper.arxiv_id, paper.version, paper.source) == ("2202.12139", 1, "arxiv")
    assert paper.categories == ("cs.SE", "cs.LG") and paper.primary_category == "cs.SE"
    assert paper.comment == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"
    assert paper.journal_ref and paper.journal_ref.startswith("Artificial Intelligence")
    assert paper.doi == "10.1109/ICSTW55395.2022.00035"
    assert [a.name for a in paper.authors] == [
        "Mohit Kumar Ahuja",
        "Arnaud Gotlieb",
        "Helge Spieker",
    ]
    assert paper.published_at == dt.datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert paper.abs_url == "https://arxiv.org/abs/2202.12139"
    assert paper.pdf_url == "https://arxiv.org/pdf/2202.12139"
    titles = {p.title for p in result.papers}
    assert "ChatGPT and Software Testing Education: Promises & Perils" in titles


def test_arxiv_legacy_layout() -> None:
    result = arxiv.parse(handmade.ARXIV_LEGACY)
    (paper,) = result.papers
    assert (paper.arxiv_id, paper.version) == ("cond-mat/0603029", 1)
    assert paper.title == (
        "From stripe to checkerboard order on the square lattice in the presence of quenched disorder"
    )
    assert paper.summary.startswith("We discuss the effects") and "\n" not in paper.summary
    assert paper.authors == (
        Author("Erica W. Carlson", ("Purdue University",)),
        Author("Dirk Wübben", ("Ohio State", "UCLA")),
    )
    assert paper.primary_category == "cond-mat.str-el"
    assert paper.categories == ("cond-mat.str-el", "cond-mat.supr-con")
    assert paper.doi == "10.1103/PhysRevB.73.184522"
    assert paper.journal_ref == "Phys. Rev. B 73, 184522 (2006)"
    assert paper.published_at == dt.datetime(2006, 3, 2, 2, 0, tzinfo=UTC)
    assert result.total == 1


def test_arxiv_empty_result_is_zero_papers() -> None:
    result = arxiv.parse(handmade.ARXIV_EMPTY)
    assert (result.papers, result.errors, result.total) == ([], [], 0)


def test_arxiv_error_feed_is_an_error_with_arxivs_message() -> None:
    with pytest.raises(arxiv.ArxivApiError, match="incorrect id format for abc"):
        arxiv.parse(handmade.ARXIV_ERROR)


def test_arxiv_withdrawn_and_bad_entries() -> None:
    body = handmade.arxiv_feed(
        handmade.arxiv_entry("2611.00001", comment="This paper has been withdrawn by the author"),
        "<entry><title>No id</title></entry>",
        handmade.arxiv_entry("2611.00003", title=""),
        handmade.arxiv_entry("2611.00004", categories=("cs.LG", "not a category!")),
    )
    result = arxiv.parse(body)
    assert result.skipped == ["2611.00001: withdrawn"]
    assert result.errors == ["entry 2: missing id", "entry 3: 2611.00003: missing title"]
    assert [p.categories for p in result.papers] == [("cs.LG",)]


def test_arxiv_search_query() -> None:
    since = dt.datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    assert arxiv.search_query(["cs.LG", "cs.CV"], "diffusion models", since) == (
        "(cat:cs.LG OR cat:cs.CV) AND (all:diffusion AND all:models) "
        "AND submittedDate:[202611250630 TO 299912312359]"
    )
    assert arxiv.search_query([], "au:del_maestro") == "(au:del_maestro)"
    with pytest.raises(ValueError):
        arxiv.search_query(["cs.LG) OR (x"], None)
    with pytest.raises(ValueError):
        arxiv.search_query([], None)


# arXiv announcement feeds ------------------------------------------------------------------


def test_rss_sample() -> None:
    result = rss.parse((SAMPLES / "arxiv_rss_2026-09-24_excerpt.xml").read_bytes())
    assert (len(result.papers), result.errors) == (4, [])
    by_id = {p.arxiv_id: p for p in result.papers}
    new = by_id["2609.26811"]
    assert (new.announce_type, new.update_only, new.version) == ("new", False, 1)
    assert new.summary.startswith("Local learning trains each layer")
    assert "Announce Type" not in new.summary and "arXiv:" not in new.summary
    assert new.published_at == dt.datetime(2026, 9, 24, 4, 0, tzinfo=UTC)
    cross = by_id["2205.06398"]
    assert cross.announce_type == "cross" and cross.doi == "10.1093/bioinformatics/btac431"
    assert cross.categories == ("stat.ME", "stat.AP", "stat.ML")
    assert [a.name for a in cross.authors] == ["Pritam Dey", "Zhengwu Zhang", "David B. Dunson"]
    replaced = by_id["2009.13987"]
    assert (replaced.announce_type, replaced.update_only, replaced.version) == ("replace", True, 3)
    assert replaced.published_at is None  # a replacement's date is not the paper's


def test_atom_announcements() -> None:
    result = rss.parse(handmade.ATOM_ANNOUNCEMENTS)
    new, replaced = result.papers
    assert (new.arxiv_id, new.announce_type, new.summary) == (
        "2609.28553",
        "new",
        "We route tokens without a router.",
    )
    assert [a.name for a in new.authors] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert new.categories == ("cs.LG", "cs.AI")
    assert (new.journal_ref, new.doi) == ("NeurIPS 2026", "10.1000/xyz123")
    assert new.published_at == dt.datetime(2026, 9, 25, 4, 0, tzinfo=UTC)
    assert (replaced.arxiv_id, replaced.update_only) == ("2401.01234", True)


def test_empty_feed_on_a_weekend_is_not_an_error() -> None:
    result = rss.parse(handmade.RSS_EMPTY)
    assert (result.papers, result.errors, result.skipped) == ([], [], [])


def test_old_rss_1_0_feed() -> None:
    result = rss.parse(handmade.RSS_1_0)
    first, updated = result.papers
    assert first.arxiv_id == "2301.00001" and first.title == "Deep Nets, Shallow Thoughts"
    assert first.summary == "We show that deep nets & friends think shallowly."
    assert [a.name for a in first.authors] == ["Jane Smith", "John Doe"]
    assert (updated.arxiv_id, updated.update_only) == ("2212.09999", True)


def test_feed_urls() -> None:
    assert rss.feed_url("https://rss.arxiv.org/rss/", ["cs.LG", "stat.ML"]) == (
        "https://rss.arxiv.org/rss/cs.LG+stat.ML"
    )
    with pytest.raises(ValueError):
        rss.feed_url("https://rss.arxiv.org/rss", ["../etc"])


# Hostile XML -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (handmade.BILLION_LAUGHS, "refused unsafe XML"),
        (handmade.EXTERNAL_ENTITY, "refused unsafe XML"),
        (handmade.UNDECLARED_ENTITY, "not well-formed XML"),
        (b"<feed><entry><id>http://arxiv.org/abs/2401.00001", "not well-formed XML"),
        (b"<html><body>502 Bad Gateway</body></html>", "expected"),
    ],
    ids=["billion-laughs", "external-entity", "undeclared-entity", "truncated", "html"],
)
@pytest.mark.parametrize(
    "parse", [arxiv.parse, rss.parse, files.parse], ids=["api", "feed", "file"]
)
def test_hostile_or_broken_xml_is_refused_whole(body: bytes, message: str, parse: object) -> None:
    assert callable(parse)
    with pytest.raises(PayloadError, match=message):
        parse(body)


# Files: the format comes from the content ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source", "count"),
    [
        ("hf_daily_papers_2024-05-29.json", "hf", 8),
        ("hf_daily_papers_2025-09-12.json", "hf", 15),
        ("arxiv_api_search_testing_start0_max10.xml", "arxiv", 10),
        ("arxiv_rss_2026-09-24_excerpt.xml", "rss", 4),
    ],
)
def test_files_detect_the_format(name: str, source: str, count: int) -> None:
    result = files.read(SAMPLES / name)
    assert len(result.papers) == count and {p.source for p in result.papers} == {source}


def test_files_detect_atom_announcements_and_old_rss() -> None:
    assert {p.source for p in files.parse(handmade.ATOM_ANNOUNCEMENTS).papers} == {"rss"}
    assert {p.source for p in files.parse(handmade.RSS_1_0).papers} == {"rss"}
    assert {p.source for p in files.parse(handmade.ARXIV_LEGACY).papers} == {"arxiv"}


def test_files_own_format_keeps_every_field() -> None:
    item = {
        "arxiv_id": "arXiv:2401.00001v3", "title": "T", "summary": "S", "source": "import",
        "authors": [{"name": "Ada", "affiliations": ["Oxford"]}], "categories": ["cs.LG"],
        "primary_category": "cs.LG", "comment": "9 pages", "journal_ref": "J", "doi": "10.1000/x",
        "upvotes": 4, "num_comments": 2, "github_stars": 7, "code_url": "https://github.com/a/b",
        "published_at": "2024-01-02T03:04:05Z", "trending_date": "2024-01-03",
        "ai_keywords": ["a", "b"], "organization": "Org",
    }  # fmt: skip
    (paper,) = files.parse(json.dumps({"papers": [item]}).encode()).papers
    assert (paper.arxiv_id, paper.version, paper.source) == ("2401.00001", 3, "import")
    assert paper.authors == (Author("Ada", ("Oxford",)),)
    assert (paper.upvotes, paper.num_comments, paper.github_stars) == (4, 2, 7)
    assert paper.trending_date == dt.date(2024, 1, 3) and paper.doi == "10.1000/x"
    assert paper.published_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
