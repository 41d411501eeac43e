"""What the XML sources share: a hardened parser, lookup by local name (layouts and namespace
declarations changed over the years; positions never count) and the date formats feeds use."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import re
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from service.ingest.model import ParseResult, PayloadError, RawPaper

_WITHDRAWN = re.compile(
    r"^\W*(?:this\s+(?:paper|article|submission|manuscript|work|preprint)\s+"
    r"(?:has\s+been|is|was)\s+withdrawn|withdrawn\b|paper\s+withdrawn)",
    re.IGNORECASE,
)


def parse_xml(body: bytes, name: str) -> Element:
    """Parse with entity expansion, external references and DTD entities refused."""
    try:
        root: Element = fromstring(body, forbid_dtd=False, forbid_entities=True)
    except DefusedXmlException as exc:
        raise PayloadError(f"{name}: refused unsafe XML ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise PayloadError(f"{name}: not well-formed XML ({exc})") from exc
    return root


def local(element: Element) -> str:
    tag = element.tag
    return _local(tag) if isinstance(tag, str) else ""


@functools.lru_cache(maxsize=512)
def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class Fields:
    """An element's children by lower-case local name, indexed once."""

    __slots__ = ("by_name", "element")

    def __init__(self, element: Element) -> None:
        self.element = element
        self.by_name: dict[str, list[Element]] = {}
        for item in element:
            tag = item.tag
            if isinstance(tag, str):
                self.by_name.setdefault(_local(tag).lower(), []).append(item)

    def all(self, *names: str) -> list[Element]:
        if len(names) == 1:
            return self.by_name.get(names[0].lower(), [])
        return [e for n in names for e in self.by_name.get(n.lower(), [])]

    def first(self, *names: str) -> Element | None:
        for name in names:
            found = self.by_name.get(name.lower())
            if found:
                return found[0]
        return None

    def text(self, *names: str) -> str | None:
        """The text of the first child with one of these names (None if absent or empty)."""
        found = self.first(*names)
        if found is None:
            return None
        value = found.text if len(found) == 0 else "".join(found.itertext())
        return value if value and value.strip() else None


def children(element: Element, *names: str) -> list[Element]:
    return Fields(element).all(*names)


def child(element: Element, *names: str) -> Element | None:
    return Fields(element).first(*names)


def text(element: Element, *names: str) -> str | None:
    return Fields(element).text(*names)


def iso_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def rfc822_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return iso_datetime(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def bounded(
    arxiv_id: str, what: str, clean: Callable[..., str], value: str | None, hard: int
) -> str:
    """Clean ``value``; an absurdly long one rejects the item, naming it and the field."""
    try:
        return clean(value, hard=hard)
    except ValueError as exc:
        raise ValueError(f"{arxiv_id}: {what} is {exc}") from exc


def is_withdrawn(*texts: str | None) -> bool:
    return any(t and _WITHDRAWN.match(t) for t in texts)


def collect(
    items: list[Any], parse_item: Callable[[Any], RawPaper | None], label: str
) -> ParseResult:
    """Run a per-item parser: bad items become errors naming their position, the rest stay.
    A parser returns None for an item left out on purpose and says why by raising Skip."""
    result = ParseResult()
    for position, item in enumerate(items, start=1):
        try:
            paper = parse_item(item)
        except Skip as skip:
            result.skipped.append(str(skip))
            continue
        except ValueError as exc:
            result.errors.append(f"{label} {position}: {exc}")
            continue
        if paper is not None:
            result.papers.append(paper)
    return result


class Skip(Exception):
    """An item deliberately not stored (withdrawn...); the message names it and says why."""
