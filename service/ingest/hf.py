"""Hugging Face Daily Papers: parse the ``/api/daily_papers`` JSON (every era, FORMATS.md 1)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from service.ingest.clean import clean_text, clean_title, safe_url
from service.ingest.ids import InvalidArxivId, parse_arxiv_id
from service.ingest.model import Author, ParseResult, PayloadError, RawPaper

HF_PAPERS = "https://huggingface.co/papers/"


def parse(body: bytes) -> ParseResult:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"HF daily papers: not valid JSON ({exc})") from exc
    return parse_items(data)


def parse_items(data: Any) -> ParseResult:
    if not isinstance(data, list):
        raise PayloadError("HF daily papers: expected a JSON array of items")
    result = ParseResult()
    for position, item in enumerate(data, start=1):
        try:
            paper = parse_item(item)
        except ValueError as exc:
            result.errors.append(f"item {position}: {exc}")
            continue
        if paper is not None:
            result.papers.append(paper)
    return result


def parse_item(item: Any) -> RawPaper | None:
    """One item, either ``{"paper": {...}, ...}`` or a bare paper object. None if withdrawn."""
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    nested = item.get("paper")
    paper: dict[str, Any] = nested if isinstance(nested, dict) else item
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("missing paper.id")
    try:
        arxiv_id, version = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from exc
    if paper.get("withdrawnAt") or item.get("withdrawnAt") or paper.get("isWithdrawn"):
        return None
    title = clean_title(item.get("title") or paper.get("title"))
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    org = paper.get("organization") or item.get("organization")
    return RawPaper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        source="hf",
        summary=clean_text(paper.get("summary") or item.get("summary")),
        authors=_authors(paper.get("authors")),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        hf_url=HF_PAPERS + arxiv_id,
        code_url=safe_url(paper.get("githubRepo")),
        project_url=safe_url(paper.get("projectPage")),
        thumbnail_url=safe_url(item.get("thumbnail") or item.get("mediaUrl")),
        organization=_organization(org),
        ai_summary=clean_text(paper.get("ai_summary")) or None,
        ai_keywords=tuple(
            clean_title(k) for k in paper.get("ai_keywords") or () if isinstance(k, str)
        ),
        upvotes=_int(paper.get("upvotes")),
        num_comments=_int(item.get("numComments")),
        github_stars=_int(paper.get("githubStars")),
        published_at=_datetime(paper.get("publishedAt")),
        trending_date=_day(paper.get("submittedOnDailyAt") or item.get("publishedAt")),
        source_id=paper.get("discussionId") if isinstance(paper.get("discussionId"), str) else None,
    )


def _authors(value: Any) -> tuple[Author, ...]:
    if not isinstance(value, list):
        return ()
    names = (
        clean_title(a.get("name")) for a in value if isinstance(a, dict) and not a.get("hidden")
    )
    return tuple(Author(name) for name in names if name)


def _organization(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return clean_title(value.get("fullname") or value.get("name")) or None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _day(value: Any) -> dt.date | None:
    parsed = _datetime(value)
    return parsed.date() if parsed else None
