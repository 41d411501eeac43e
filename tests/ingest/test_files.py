from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from service.ingest import files
from service.ingest.ids import InvalidArxivId, canonical_arxiv_id, parse_arxiv_id
from service.ingest.model import PayloadError
from service.store import papers
from service.store.papers import upsert_papers
from tests.conftest import SAMPLES, SHARED

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "canonical", "version"),
    [
        ("2401.01234v3", "2401.01234", 3),
        ("arXiv:2401.01234", "2401.01234", None),
        ("https://arxiv.org/abs/2401.01234", "2401.01234", None),
        ("http://arxiv.org/abs/2202.12139v1", "2202.12139", 1),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("math.GT/0309136v2", "math.GT/0309136", 2),
        ("oai:arXiv.org:2609.28553v1", "2609.28553", 1),
    ],
)
def test_canonical_ids(raw: str, canonical: str, version: int | None) -> None:
    assert parse_arxiv_id(raw) == (canonical, version)


@pytest.mark.parametrize("raw", ["", "abc", "2401", "javascript:alert(1)", "2401.01234 OR 1=1"])
def test_bad_ids_are_refused(raw: str) -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(raw)


@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("hf_daily_papers_2024-05-29.json", 8, "2405.18407"),
        ("hf_daily_papers_2025-09-12.json", 15, "2509.08519"),
    ],
)
def test_hf_samples(name: str, count: int, first: str) -> None:
    result = files.read(SAMPLES / name)
    assert result.errors == []
    assert len(result.papers) == count
    paper = result.papers[0]
    assert paper.arxiv_id == first and paper.upvotes and paper.authors
    assert "\n" not in paper.title and "  " not in paper.summary
    assert paper.hf_url == f"https://huggingface.co/papers/{first}"


def test_own_format_json_and_jsonl(tmp_path: Path) -> None:
    items = [
        {"arxiv_id": "2401.00001v2", "title": "A <b>bold</b> title", "summary": "50\\% better",
         "authors": ["Ada Lovelace", {"name": "Alan Turing", "affiliations": ["NPL"]}],
         "code_url": "javascript:alert(1)"},
        {"arxiv_id": "2401.00002", "title": "Second"},
    ]  # fmt: skip
    as_json = files.parse(json.dumps(items).encode())
    as_jsonl = files.parse("\n".join(json.dumps(i) for i in items).encode())
    assert as_json.papers == as_jsonl.papers
    first = as_json.papers[0]
    assert first.title == "A bold title"
    assert first.summary == "50% better"
    assert first.code_url is None
    assert first.authors[1].affiliations == ("NPL",)


def test_bad_items_are_reported_by_position_and_others_kept() -> None:
    result = files.parse(
        json.dumps(
            [
                {"summary": "neither id nor title"},
                {"arxiv_id": "2401.00003"},
                {"arxiv_id": "2401.00004", "title": "ok"},
                {"arxiv_id": 2401.00005, "title": "a number"},
            ]
        ).encode()
    )
    assert [p.arxiv_id for p in result.papers] == ["2401.00004"]
    assert result.errors == [
        "item 1: missing arxiv_id and title",
        "item 2: 2401.00003: missing title",
        "item 4: arxiv_id is not a string",
    ]


def test_papers_without_an_arxiv_id_get_a_stable_local_id_and_no_arxiv_links() -> None:
    """A reading list of titles and abstracts (the shape of the shared seed papers)."""
    first = files.parse(json.dumps([
        {"title": "Scaling Vision Transformers", "summary": "We scale ViTs."},
        {"title": "Another paper", "abs_url": "https://example.org/paper"},
    ]).encode()).papers  # fmt: skip
    again = files.parse(json.dumps([{"title": "  scaling vision-transformers!"}]).encode()).papers
    assert re.fullmatch(r"local/\d{7}", first[0].arxiv_id)
    assert again[0].arxiv_id == first[0].arxiv_id  # case, spacing and punctuation aside
    assert first[1].arxiv_id != first[0].arxiv_id
    assert (first[0].abs_url, first[0].pdf_url) == (None, None)
    assert (first[1].abs_url, first[1].pdf_url) == ("https://example.org/paper", None)
    assert canonical_arxiv_id(first[0].arxiv_id) == first[0].arxiv_id  # `papers show` takes it


def test_the_shared_seed_papers_import_whole_and_are_never_looked_up(
    session: Session,
) -> None:
    result = files.read(SHARED / "data" / "seed_papers.json")
    assert len(result.papers) == 72 and result.errors == []
    assert len({p.arxiv_id for p in result.papers}) == 72
    upsert_papers(session, result.papers, NOW)
    ids = [p.arxiv_id for p in result.papers]
    assert papers.needing_enrichment(session, [*ids, "2401.00001"], 3) == ["2401.00001"]
    assert papers.due_for_enrichment(session, NOW - dt.timedelta(days=1), 3, 100) == []


@pytest.mark.parametrize("body", [b'[{"arxiv_id": "2401.00001", "title"', b"\xff\xfe", b'{"a": 1}'])
def test_unusable_payloads_raise(body: bytes) -> None:
    with pytest.raises(PayloadError):
        files.parse(body)
