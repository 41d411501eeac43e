"""arXiv announcement feeds (``rss.arxiv.org/rss/<cats>`` and ``/atom/<cats>``; FORMATS.md 3),
and the older RSS 1.0 (RDF) feeds. Each item says its announce type: ``new``, ``cross``,
``replace``, ``replace-cross``. Replacements carry old ids, so they only refresh papers that are
already stored (``update_only``); whether cross-lists are taken is the caller's choice.
An empty feed (weekends, holidays) is zero papers, not an error."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
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
    child,
    children,
    collect,
    is_withdrawn,
    iso_datetime,
    local,
    parse_xml,
    rfc822_datetime,
)
from service.ingest.http import Fetcher
from service.ingest.ids import InvalidArxivId, find_arxiv_id, parse_arxiv_id
from service.ingest.memory import gc_paused
from service.ingest.model import Author, ParseResult, PayloadError, RawPaper

FEED_URL = "https://rss.arxiv.org/rss"
REPLACEMENTS = frozenset({"replace", "replace-cross"})
_ANNOUNCE = re.compile(r"Announce Type:\s*([\w-]+)", re.IGNORECASE)
_ABSTRACT = re.compile(r"(?:^|\s)Abstract:\s*", re.IGNORECASE)
_OLD_TITLE_SUFFIX = re.compile(r"\s*\(arXiv:[^()]*\)\s*$")
_AUTHOR_SPLIT = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+")


def parse(body: bytes) -> ParseResult:
    with gc_paused():
        return parse_tree(parse_xml(body, "arXiv feed"))


def parse_tree(root: Element) -> ParseResult:
    kind = local(root)
    if kind == "rss":
        channel = child(root, "channel")
        items = children(channel if channel is not None else root, "item")
    elif kind == "RDF":
        items = children(root, "item")
    elif kind == "feed":
        items = children(root, "entry")
    else:
        raise PayloadError(f"arXiv feed: expected RSS or Atom, got <{local(root)}>")
    return collect(items, parse_item, "item")


def parse_item(element: Element) -> RawPaper:
    item = Fields(element)
    header, abstract = _split_description(item.text("description", "summary") or "")
    arxiv_id, version = _identity(item, header)
    raw_title = bounded(arxiv_id, "title", clean_title, item.text("title"), HARD_TITLE)
    suffix = _OLD_TITLE_SUFFIX.search(raw_title)  # "(arXiv:2301.00001v1 [cs.LG] UPDATED)"
    title = raw_title[: suffix.start()].removesuffix(".") if suffix else raw_title
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    summary = bounded(arxiv_id, "abstract", clean_text, abstract, HARD_SUMMARY)
    if is_withdrawn(summary):
        raise Skip(f"{arxiv_id}: withdrawn")
    announce = _announce_type(item, header)
    if announce is None and suffix and "UPDATED" in suffix[0]:
        announce = "replace"
    return RawPaper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        source="rss",
        summary=summary,
        authors=_authors(item.text("creator", "author")),
        categories=clean_categories([c.get("term") or c.text for c in item.all("category")]),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        journal_ref=clean_text(item.text("journal_reference", "journal_ref"), 1_000) or None,
        doi=clean_doi(item.text("doi")),
        # A replacement's date is the day of the new version, not of the paper.
        published_at=None if announce in REPLACEMENTS else _published(item),
        update_only=announce in REPLACEMENTS,
        announce_type=announce,
    )


def _published(item: Fields) -> dt.datetime | None:
    return rfc822_datetime(item.text("pubDate")) or iso_datetime(item.text("published", "date"))


def _identity(item: Fields, header: str) -> tuple[str, int | None]:
    candidates = [item.text("guid", "id"), item.element.get(_RDF_ABOUT), item.text("link")]
    link = item.first("link")
    if link is not None and link.get("href"):
        candidates.append(link.get("href"))
    for candidate in candidates:
        if candidate:
            try:
                return parse_arxiv_id(candidate)
            except InvalidArxivId:
                continue
    found = find_arxiv_id(header)
    if found is None:
        raise ValueError("no arXiv id in guid, link or description")
    return found


_RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"


def _announce_type(item: Fields, header: str) -> str | None:
    value = item.text("announce_type")
    if value is None:
        match = _ANNOUNCE.search(header)
        value = match[1] if match else None
    return value.strip().lower()[:32] if value else None


def _authors(value: str | None) -> tuple[Author, ...]:
    names = (clean_title(n) for n in _AUTHOR_SPLIT.split(clean_text(value, 20_000)))
    return tuple(Author(n) for n in names if n)


def _split_description(description: str) -> tuple[str, str]:
    """``arXiv:<id>v<n> Announce Type: <type> \\nAbstract: <text>`` -> (header, abstract)."""
    parts = _ABSTRACT.split(description[: HARD_SUMMARY + 1_000], maxsplit=1)
    if len(parts) == 2:
        return parts[0], parts[1]
    if description.lstrip().startswith("arXiv:") and len(description) < 200:
        return description, ""
    return "", description


def feed_url(base_url: str, categories: Sequence[str]) -> str:
    cleaned = [clean_category(c) for c in categories]
    if not cleaned or None in cleaned:
        raise ValueError(f"not arXiv categories: {' '.join(categories) or '(none)'}")
    return f"{base_url.rstrip('/')}/{'+'.join(c for c in cleaned if c)}"


def fetch(fetcher: Fetcher, base_url: str, categories: Sequence[str]) -> ParseResult:
    return parse(fetcher.get(feed_url(base_url, categories)).body)
