"""Hugging Face Daily Papers: ``/api/daily_papers`` by ``date``, ISO ``week`` or ``month``,
paginated (``limit`` at most 100, ``p``), and a parser for every era of its JSON (FORMATS.md 1).
Items may be ``{"paper": {...}, ...}`` or bare paper objects; optional fields are usually absent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from service.ingest.clean import (
    HARD_SUMMARY,
    HARD_TITLE,
    clean_text,
    clean_title,
    clean_token,
    safe_url,
)
from service.ingest.feeds import Skip, bounded, collect, is_withdrawn
from service.ingest.http import Fetcher
from service.ingest.ids import InvalidArxivId, parse_arxiv_id
from service.ingest.memory import gc_paused
from service.ingest.model import Author, ParseResult, PayloadError, RawPaper

BASE_URL = "https://huggingface.co"
HF_PAPERS = "https://huggingface.co/papers/"
PAGE_SIZE = 100  # the API's maximum
MAX_PAGES = 60
_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
Progress = Callable[[int, int | None], None]


def parse(body: bytes) -> ParseResult:
    with gc_paused():
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise PayloadError(f"HF daily papers: not valid JSON ({exc})") from exc
        return parse_items(data)


def parse_items(data: Any) -> ParseResult:
    if isinstance(data, dict) and isinstance(data.get("paper"), dict):
        data = [data]  # one item, as /api/papers/{id} answers
    if not isinstance(data, list):
        raise PayloadError("HF daily papers: expected a JSON array of items")
    return collect(data, parse_item, "item")


def parse_item(item: Any) -> RawPaper:
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
    title = bounded(arxiv_id, "title", clean_title, _str(item, paper, "title"), HARD_TITLE)
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    summary = bounded(arxiv_id, "abstract", clean_text, _str(paper, item, "summary"), HARD_SUMMARY)
    if _withdrawn(item, paper) or is_withdrawn(summary):
        raise Skip(f"{arxiv_id}: withdrawn")
    return RawPaper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        source="hf",
        summary=summary,
        authors=_authors(paper.get("authors")),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        hf_url=HF_PAPERS + arxiv_id,
        code_url=safe_url(paper.get("githubRepo")),
        project_url=safe_url(paper.get("projectPage")),
        thumbnail_url=safe_url(item.get("thumbnail") or item.get("mediaUrl")),
        organization=_organization(paper.get("organization") or item.get("organization")),
        ai_summary=clean_text(paper.get("ai_summary"), 2_000) or None,
        ai_keywords=_keywords(paper.get("ai_keywords")),
        upvotes=_int(paper.get("upvotes")),
        num_comments=_int(item.get("numComments", paper.get("numComments"))),
        github_stars=_int(paper.get("githubStars")),
        published_at=_datetime(paper.get("publishedAt")),
        trending_date=_day(paper.get("submittedOnDailyAt") or item.get("publishedAt")),
        source_id=clean_token(paper.get("discussionId")),
    )


def _str(first: dict[str, Any], second: dict[str, Any], key: str) -> str | None:
    for value in (first.get(key), second.get(key)):
        if isinstance(value, str) and value.strip():
            return value
    return None


def _withdrawn(item: dict[str, Any], paper: dict[str, Any]) -> bool:
    keys = ("withdrawnAt", "withdrawn", "isWithdrawn")
    return any(source.get(key) for source in (item, paper) for key in keys)


def _authors(value: Any) -> tuple[Author, ...]:
    if not isinstance(value, list):
        return ()
    names = (
        clean_title(a.get("name")) for a in value if isinstance(a, dict) and not a.get("hidden")
    )
    return tuple(Author(name) for name in names if name)


def _keywords(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    words = (clean_text(k, 200) for k in value[:50] if isinstance(k, str))
    return tuple(dict.fromkeys(w for w in words if w))


def _organization(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return clean_text(value.get("fullname") or value.get("name"), 300) or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        return None
    return value


def _datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _day(value: Any) -> dt.date | None:
    parsed = _datetime(value)
    return parsed.date() if parsed else None


def period(
    date: dt.date | None = None, week: str | None = None, month: str | None = None
) -> dict[str, str]:
    """The query for one day, ISO week (``2025-W37``) or month (``2025-09``); today if none."""
    given = [p for p in (date, week, month) if p is not None]
    if len(given) > 1:
        raise ValueError("give one of date, week or month")
    if week is not None:
        if not _WEEK.match(week):
            raise ValueError(f"not an ISO week like 2025-W37: {week!r}")
        return {"week": week}
    if month is not None:
        if not _MONTH.match(month):
            raise ValueError(f"not a month like 2025-09: {month!r}")
        return {"month": month}
    return {"date": date.isoformat()} if date is not None else {}


def fetch(
    fetcher: Fetcher,
    base_url: str,
    query: dict[str, str],
    *,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> ParseResult:
    """Every page of one period. Stops at a short or empty page, or at a page that repeats
    the previous one (a server that ignores ``p``)."""
    url = f"{base_url.rstrip('/')}/api/daily_papers"
    result = ParseResult()
    previous: list[str] = []
    for page in range(MAX_PAGES):
        body = fetcher.get(url, {**query, "limit": min(page_size, PAGE_SIZE), "p": page}).body
        parsed = parse(body)
        ids = [p.arxiv_id for p in parsed.papers]
        if ids and ids == previous:
            break
        result.extend(parsed)
        if progress:
            progress(len(result.papers), None)
        size = len(parsed.papers) + len(parsed.errors) + len(parsed.skipped)
        if size < min(page_size, PAGE_SIZE):
            break
        previous = ids
    return result
