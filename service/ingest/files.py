"""The file source: the format is detected from the content, never from the file name.

- XML: an arXiv API answer (Atom), an arXiv announcement feed (RSS 2.0, RSS 1.0 or Atom).
- JSON: the HF daily papers list, or paperpost's own format.

paperpost's own format is a JSON array, ``{"papers": [...]}``, or JSON Lines (one object per
line), of papers with the RawPaper field names: ``{"arxiv_id": "2405.18407", "title": "...",
"summary": "...", "authors": ["Ada Lovelace"] or [{"name": ..., "affiliations": [...]}],
"categories": ["cs.CV"], "upvotes": 3, "published_at": "2024-05-28T17:47:19Z", ...}``.
Only ``title`` is required. A paper without an ``arxiv_id`` (a reading list of titles and
abstracts) is stored under a local id derived from its title, ``local/`` and seven digits
(``LOCAL_ARCHIVE``): the same title gets the same id on every import, it is never looked up on
arXiv, and it has no arXiv links unless the item gives ``abs_url`` or ``pdf_url``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.ingest import arxiv, hf, rss
from service.ingest.clean import (
    HARD_SUMMARY,
    HARD_TITLE,
    clean_categories,
    clean_category,
    clean_doi,
    clean_text,
    clean_title,
    clean_token,
    safe_url,
)
from service.ingest.feeds import bounded, children, collect, local, parse_xml, text
from service.ingest.ids import InvalidArxivId, is_local, local_id, parse_arxiv_id
from service.ingest.memory import gc_paused
from service.ingest.model import Author, ParseResult, PayloadError, RawPaper

MAX_FILE_BYTES = 512 * 1024 * 1024


def read(path: Path) -> ParseResult:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PayloadError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB")
        body = path.read_bytes()
    except OSError as exc:
        raise PayloadError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return parse(body, name=str(path))


def detect(body: bytes) -> str:
    """``xml`` or ``json`` from the first meaningful byte."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "xml" if head.startswith(b"<") else "json"


def parse(body: bytes, name: str = "input") -> ParseResult:
    with gc_paused():
        return _parse(body, name)


def _parse(body: bytes, name: str) -> ParseResult:
    if detect(body) == "xml":
        return parse_xml_file(body, name)
    data = _load_json(body, name)
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    if not isinstance(data, list):
        raise PayloadError(f"{name}: expected a list of papers")
    first = next((item for item in data if isinstance(item, dict)), None)
    if first is not None and (isinstance(first.get("paper"), dict) or _hf_shaped(first)):
        return hf.parse_items(data)
    return collect(data, parse_own, "item")


def parse_xml_file(body: bytes, name: str) -> ParseResult:
    root = parse_xml(body, name)
    if local(root) == "feed" and not _is_announcement(root):
        return arxiv.parse_tree(root)
    return rss.parse_tree(root)


def _is_announcement(feed: Any) -> bool:
    """rss.arxiv.org Atom feeds have ``oai:`` entry ids and announce types; the API has not."""
    for entry in children(feed, "entry")[:5]:
        if (text(entry, "id") or "").startswith("oai:") or text(entry, "announce_type"):
            return True
    return "rss.arxiv.org" in (text(feed, "id") or "")


def _hf_shaped(item: dict[str, Any]) -> bool:
    """A bare HF paper object: ``id`` plus HF-only fields, no ``arxiv_id``."""
    return "arxiv_id" not in item and "id" in item and ("upvotes" in item or "discussionId" in item)


def _load_json(body: bytes, name: str) -> Any:
    try:
        text_ = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    stripped = text_.lstrip()
    try:
        if stripped.startswith(("[", "{")) and not _looks_like_jsonl(stripped):
            return json.loads(stripped)
        return [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise PayloadError(f"{name}: JSON nested too deeply") from exc


def _looks_like_jsonl(text_: str) -> bool:
    first, _, rest = text_.partition("\n")
    if not rest.strip() or not first.startswith("{"):
        return False
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return True


def parse_own(item: Any) -> RawPaper:
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    raw_id = item.get("arxiv_id") or item.get("id")
    if raw_id is None:
        title = clean_title(item.get("title"))
        if not title:
            raise ValueError("missing arxiv_id and title")
        arxiv_id, version, arxiv_links = local_id(title), None, False
    elif not isinstance(raw_id, str):
        raise ValueError("arxiv_id is not a string")
    else:
        try:
            arxiv_id, version = parse_arxiv_id(raw_id)
        except InvalidArxivId as exc:
            raise ValueError(str(exc)) from exc
        arxiv_links = not is_local(arxiv_id)
    title = bounded(arxiv_id, "title", clean_title, item.get("title"), HARD_TITLE)
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    abstract = item.get("summary") or item.get("abstract")
    abs_url = safe_url(item.get("abs_url"))
    pdf_url = safe_url(item.get("pdf_url"))
    if arxiv_links:
        abs_url = abs_url or f"https://arxiv.org/abs/{arxiv_id}"
        pdf_url = pdf_url or f"https://arxiv.org/pdf/{arxiv_id}"
    return RawPaper(
        arxiv_id=arxiv_id,
        version=hf._int(item.get("version")) or version,
        title=title,
        source=clean_token(item.get("source")) or "file",
        summary=bounded(arxiv_id, "abstract", clean_text, abstract, HARD_SUMMARY),
        authors=_authors(item.get("authors")),
        categories=clean_categories(item.get("categories")),
        primary_category=clean_category(item.get("primary_category")),
        abs_url=abs_url,
        pdf_url=pdf_url,
        hf_url=safe_url(item.get("hf_url")),
        code_url=safe_url(item.get("code_url")),
        project_url=safe_url(item.get("project_url")),
        thumbnail_url=safe_url(item.get("thumbnail_url")),
        comment=clean_text(item.get("comment"), 2_000) or None,
        journal_ref=clean_text(item.get("journal_ref"), 1_000) or None,
        doi=clean_doi(item.get("doi")),
        organization=clean_text(item.get("organization"), 300) or None,
        ai_summary=clean_text(item.get("ai_summary"), 2_000) or None,
        ai_keywords=hf._keywords(item.get("ai_keywords")),
        upvotes=hf._int(item.get("upvotes")),
        num_comments=hf._int(item.get("num_comments")),
        github_stars=hf._int(item.get("github_stars")),
        published_at=hf._datetime(item.get("published_at")),
        trending_date=hf._day(item.get("trending_date")),
    )


def _authors(value: Any) -> tuple[Author, ...]:
    if not isinstance(value, list):
        return ()
    authors = (_author(a) for a in value[:2_000])
    return tuple(a for a in authors if a.name)


def _author(value: Any) -> Author:
    if isinstance(value, str):
        return Author(clean_title(value))
    if isinstance(value, dict):
        listed = value.get("affiliations")
        affiliations = listed if isinstance(listed, list) else [listed]
        cleaned = (clean_title(a) for a in affiliations if isinstance(a, str))
        return Author(clean_title(value.get("name")), tuple(a for a in cleaned if a))
    return Author("")
