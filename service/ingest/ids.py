"""Canonical arXiv identity: ``2401.01234v3``, ``arXiv:2401.01234`` and
``https://arxiv.org/abs/2401.01234`` are one paper; old-style ids like ``hep-th/9901001`` too."""

from __future__ import annotations

import re

_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
_ID = re.compile(
    rf"^(?:arxiv:|oai:arxiv\.org:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?"
    rf"(?:{_NEW}|{_OLD})(?:v(?P<version>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)


class InvalidArxivId(ValueError):
    pass


def parse_arxiv_id(value: str) -> tuple[str, int | None]:
    """Return (canonical id, version or None)."""
    match = _ID.match(value.strip())
    if not match:
        raise InvalidArxivId(f"not an arXiv id: {value[:80]!r}")
    if match["new"]:
        canonical = match["new"]
    else:
        archive, _, number = match["old"].partition("/")
        name, dot, subject = archive.partition(".")
        canonical = f"{name.lower()}{dot}{subject.upper()}/{number}"
    version = int(match["version"]) if match["version"] else None
    return canonical, version


def canonical_arxiv_id(value: str) -> str:
    return parse_arxiv_id(value)[0]
