"""Canonical arXiv identity: ``2401.01234v3``, ``arXiv:2401.01234`` and
``https://arxiv.org/abs/2401.01234`` are one paper; old-style ids like ``hep-th/9901001`` too.

The canonical id has no version and no prefix; new-style ids keep their digits, old-style ids
are lower-case archive, upper-case subject class (``math.GT/0309136``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NEW = r"(?P<new>(?P<yymm>\d{4})\.\d{4,5})"
_OLD = r"(?P<old>[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})"
_PREFIX = (
    r"(?:arxiv:\s*|oai:arxiv\.org:|"
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|"
    r"(?:https?://)?(?:www\.)?huggingface\.co/papers/)?"
)
_ID = re.compile(
    rf"^{_PREFIX}(?:{_NEW}|{_OLD})(?:v(?P<version>\d{{1,4}}))?(?:\.pdf)?/?$", re.IGNORECASE
)
_IN_TEXT = re.compile(
    rf"(?<![\w./-])(?:{_NEW}|{_OLD})(?:v(?P<version>\d{{1,4}}))?(?![\w/])", re.IGNORECASE
)


LOCAL_ARCHIVE = "local"  # no arXiv archive has this name


def local_id(title: str) -> str:
    """The id of a paper that has no arXiv id, from its title (case, spacing and punctuation
    aside), in the old-style shape so every tool that takes an id takes it."""
    key = " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", title).casefold()))
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 10_000_000
    return f"{LOCAL_ARCHIVE}/{number:07d}"


def is_local(arxiv_id: str) -> bool:
    return arxiv_id.startswith(LOCAL_ARCHIVE + "/")


class InvalidArxivId(ValueError):
    pass


def parse_arxiv_id(value: str) -> tuple[str, int | None]:
    """Return (canonical id, version or None)."""
    match = _ID.match(value.strip()) if isinstance(value, str) and len(value) < 300 else None
    if not match or (match["yymm"] and not 1 <= int(match["yymm"][2:]) <= 12):
        raise InvalidArxivId(f"not an arXiv id: {str(value)[:80]!r}")
    return _canonical(match), int(match["version"]) if match["version"] else None


def canonical_arxiv_id(value: str) -> str:
    return parse_arxiv_id(value)[0]


def find_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """The first arXiv id inside free text (``arXiv:2205.06398v2 Announce Type: ...``)."""
    for match in _IN_TEXT.finditer(text[:2_000]):
        if match["yymm"] and not 1 <= int(match["yymm"][2:]) <= 12:
            continue
        return _canonical(match), int(match["version"]) if match["version"] else None
    return None


def _canonical(match: re.Match[str]) -> str:
    if match["new"]:
        return match["new"]
    archive, _, number = match["old"].partition("/")
    name, dot, subject = archive.partition(".")
    return f"{name.lower()}{dot}{subject.upper()}/{number}"
