"""The arXiv API (``/api/query``, Atom 1.0; FORMATS.md 2): search by categories and/or a query
sorted by submission date, or look up an ``id_list``. Both layouts (current and legacy) parse
by namespace-free local names; the 400 error feed becomes a PayloadError with arXiv's message."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from xml.etree.ElementTree import Element

from service.ingest.clean import (
    HARD_SUMMARY,
    HARD_TITLE,
    clean_categories,
    clean_category,
    clean_doi,
    clean_text,
    clean_title,
)
from service.ingest.feeds import (
    Fields,
    Skip,
    bounded,
    children,
    collect,
    is_withdrawn,
    iso_datetime,
    local,
    parse_xml,
    text,
)
from service.ingest.http import Fetcher, FetchError
from service.ingest.ids import InvalidArxivId, parse_arxiv_id
from service.ingest.memory import gc_paused
from service.ingest.model import Author, ParseResult, PayloadError, RawPaper

API_URL = "https://export.arxiv.org/api/query"
MAX_PAGE = 2_000  # arXiv refuses larger slices
Progress = Callable[[int, int | None], None]


class ArxivApiError(PayloadError):
    """arXiv answered with its error feed (a malformed id, a bad query)."""


def parse(body: bytes) -> ParseResult:
    with gc_paused():
        return parse_tree(parse_xml(body, "arXiv API"))


def parse_tree(root: Element) -> ParseResult:
    if local(root) != "feed":
        raise PayloadError(f"arXiv API: expected an Atom feed, got <{local(root)}>")
    entries = children(root, "entry")
    for entry in entries:
        entry_id = text(entry, "id") or ""
        if "/api/errors" in entry_id or (text(entry, "title") or "").strip() == "Error":
            message = clean_text(text(entry, "summary")) or entry_id
            raise ArxivApiError(f"arXiv API error: {message}")
    result = collect(entries, parse_entry, "entry")
    total = text(root, "totalResults")
    return ParseResult(
        result.papers,
        result.errors,
        result.skipped,
        int(total) if total and total.strip().isdigit() else None,
    )


def parse_entry(element: Element) -> RawPaper:
    entry = Fields(element)
    raw_id = entry.text("id")
    if raw_id is None:
        raise ValueError("missing id")
    try:
        arxiv_id, version = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from exc
    title = bounded(arxiv_id, "title", clean_title, entry.text("title"), HARD_TITLE)
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    summary = bounded(arxiv_id, "abstract", clean_text, entry.text("summary"), HARD_SUMMARY)
    comment = clean_text(entry.text("comment"), 2_000) or None
    if is_withdrawn(comment, summary):
        raise Skip(f"{arxiv_id}: withdrawn")
    primary_element = entry.first("primary_category")
    primary = clean_category(primary_element.get("term")) if primary_element is not None else None
    categories = [primary, *(c.get("term") for c in entry.all("category"))]
    return RawPaper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        source="arxiv",
        summary=summary,
        authors=tuple(a for a in map(_author, entry.all("author")) if a.name),
        categories=clean_categories(categories),
        primary_category=primary,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        comment=comment,
        journal_ref=clean_text(entry.text("journal_ref", "journal_reference"), 1_000) or None,
        doi=clean_doi(entry.text("doi")),
        published_at=iso_datetime(entry.text("published")),
    )


def _author(element: Element) -> Author:
    author = Fields(element)
    affiliations = (clean_title(a.text) for a in author.all("affiliation"))
    return Author(clean_title(author.text("name")), tuple(a for a in affiliations if a))


_CATEGORY_QUERY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z\-]+)?$")


def search_query(
    categories: Sequence[str], query: str | None, since: dt.datetime | None = None
) -> str:
    """``(cat:cs.LG OR cat:cs.CV) AND (all:diffusion) AND submittedDate:[... TO ...]``."""
    parts: list[str] = []
    bad = [c for c in categories if not _CATEGORY_QUERY.match(c)]
    if bad:
        raise ValueError(f"not an arXiv category: {bad[0]!r}")
    if categories:
        parts.append("(" + " OR ".join(f"cat:{c}" for c in categories) + ")")
    if query and query.strip():
        q = query.strip()
        words = " AND ".join(f"all:{w}" for w in q.split())
        parts.append(f"({q})" if ":" in q or '"' in q else f"({words})")
    if since is not None:
        start = since.astimezone(dt.UTC).strftime("%Y%m%d%H%M")
        parts.append(f"submittedDate:[{start} TO 299912312359]")
    if not parts:
        raise ValueError("give at least one category or a query")
    return " AND ".join(parts)


def search(
    fetcher: Fetcher,
    url: str,
    query: str,
    *,
    since: dt.datetime | None = None,
    page_size: int = 200,
    max_results: int = 2_000,
    progress: Progress | None = None,
) -> ParseResult:
    """Newest submissions first, page by page, until ``since``, the end or ``max_results``."""
    page_size = max(1, min(page_size, MAX_PAGE))
    result = ParseResult()
    start, total = 0, None
    while start < max_results and (total is None or start < total):
        params = {
            "search_query": query,
            "start": start,
            "max_results": min(page_size, max_results - start),
            "sortBy": "submittedDate",
            "sortOrder": "descending",
        }
        page = _page(fetcher, url, params)
        if not page.papers and not page.errors and page.total and start < page.total:
            page = _page(fetcher, url, params)  # arXiv sometimes answers an empty page once
        total = page.total if page.total is not None else total
        fresh = [p for p in page.papers if not _older(p, since)]
        result.extend(ParseResult(fresh, page.errors, page.skipped))
        start += len(page.papers) + len(page.errors) + len(page.skipped)
        if progress:
            progress(start, min(total or start, max_results))
        if len(fresh) < len(page.papers) or not (page.papers or page.errors or page.skipped):
            break
    return ParseResult(result.papers, result.errors, result.skipped, total)


def lookup(fetcher: Fetcher, url: str, ids: Sequence[str]) -> ParseResult:
    """One ``id_list`` request; ids arXiv does not know are silently absent from the answer."""
    params = {"id_list": ",".join(ids), "max_results": len(ids), "start": 0}
    return _page(fetcher, url, params)


def _page(fetcher: Fetcher, url: str, params: dict[str, object]) -> ParseResult:
    try:
        answer = fetcher.get(url, params)
    except FetchError as exc:
        if exc.status == 400 and exc.body:
            _raise_api_error(exc)
        raise
    return parse(answer.body)


def _raise_api_error(refused: FetchError) -> None:
    """arXiv explains a 400 in an error feed: raise that message, if the body is one."""
    try:
        parse(refused.body)
    except ArxivApiError:
        raise
    except PayloadError:
        return


def _older(paper: RawPaper, since: dt.datetime | None) -> bool:
    return since is not None and paper.published_at is not None and paper.published_at < since
