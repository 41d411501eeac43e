"""The file source: the HF JSON and paperpost's own JSON/JSONL list, detected by content.

paperpost's own format is a JSON array (or one object per line) of papers with the RawPaper
field names: ``{"arxiv_id": "2405.18407", "title": "...", "summary": "...",
"authors": ["Ada Lovelace"] or [{"name": ..., "affiliations": [...]}], "categories": [...],
"upvotes": 3, "published_at": "2024-05-28T17:47:19Z", ...}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.ingest import hf
from service.ingest.clean import clean_text, clean_title, safe_url
from service.ingest.ids import InvalidArxivId, parse_arxiv_id
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


def parse(body: bytes, name: str = "input") -> ParseResult:
    data = _load_json(body, name)
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    if not isinstance(data, list):
        raise PayloadError(f"{name}: expected a list of papers")
    if data and isinstance(data[0], dict) and isinstance(data[0].get("paper"), dict):
        return hf.parse_items(data)
    result = ParseResult()
    for position, item in enumerate(data, start=1):
        try:
            result.papers.append(parse_own(item))
        except ValueError as exc:
            result.errors.append(f"item {position}: {exc}")
    return result


def _load_json(body: bytes, name: str) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    stripped = text.lstrip()
    try:
        if stripped.startswith(("[", "{")) and not _looks_like_jsonl(stripped):
            return json.loads(stripped)
        return [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def _looks_like_jsonl(text: str) -> bool:
    first, _, rest = text.partition("\n")
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
    if not isinstance(raw_id, str):
        raise ValueError("missing arxiv_id")
    try:
        arxiv_id, version = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from exc
    title = clean_title(item.get("title"))
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    upvotes = item.get("upvotes")
    return RawPaper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        source=str(item.get("source") or "file")[:16],
        summary=clean_text(item.get("summary") or item.get("abstract")),
        authors=tuple(_author(a) for a in item.get("authors") or () if _author(a).name),
        categories=tuple(str(c) for c in item.get("categories") or () if isinstance(c, str)),
        primary_category=item.get("primary_category")
        if isinstance(item.get("primary_category"), str)
        else None,
        abs_url=safe_url(item.get("abs_url")) or f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=safe_url(item.get("pdf_url")) or f"https://arxiv.org/pdf/{arxiv_id}",
        hf_url=safe_url(item.get("hf_url")),
        code_url=safe_url(item.get("code_url")),
        project_url=safe_url(item.get("project_url")),
        organization=clean_title(item.get("organization")) or None,
        ai_summary=clean_text(item.get("ai_summary")) or None,
        upvotes=hf._int(upvotes),
        num_comments=hf._int(item.get("num_comments")),
        github_stars=hf._int(item.get("github_stars")),
        published_at=hf._datetime(item.get("published_at")),
        trending_date=hf._day(item.get("trending_date")),
    )


def _author(value: Any) -> Author:
    if isinstance(value, str):
        return Author(clean_title(value))
    if isinstance(value, dict):
        affiliations = tuple(
            clean_title(a) for a in value.get("affiliations") or () if isinstance(a, str)
        )
        return Author(clean_title(value.get("name")), affiliations)
    return Author("")
