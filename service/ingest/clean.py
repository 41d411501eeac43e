"""Text and link hygiene shared by every parser: feeds are plain text, never HTML."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000

_WS = re.compile(r"\s+")
_TAGS = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]{0,300})?/?>")
_TEX_ESCAPES = re.compile(r"\\([%&$#_{}])")
_CONTROL = dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)) | dict.fromkeys(
    [0x7F, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def clean_text(value: object, limit: int = MAX_SUMMARY) -> str:
    """Collapse hard line breaks and whitespace, drop tags and control characters,
    render TeX escapes like ``\\%`` as the character. Keeps Unicode and other TeX."""
    if not isinstance(value, str):
        return ""
    text = unicodedata.normalize("NFC", value).translate(_CONTROL)
    text = _TAGS.sub("", html.unescape(text)) if "<" in text or "&" in text else text
    text = _TEX_ESCAPES.sub(r"\1", text)
    text = _WS.sub(" ", text).strip()
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit].rstrip() + "…"
    return text


def clean_title(value: object) -> str:
    return clean_text(value, MAX_TITLE)


def safe_url(value: object) -> str | None:
    """Only absolute http(s) URLs survive; ``javascript:``, ``data:`` and junk become None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > 2_000 or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url
