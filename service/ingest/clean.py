"""Text and link hygiene shared by every parser: feeds are plain text, never HTML.

Titles and abstracts lose arXiv hard line breaks, runs of whitespace, control and bidi
characters and HTML markup; Unicode and TeX stay, except that TeX escapes of plain characters
(``\\%``, ``\\&``, ``e.g.\\ ``, ``W\\"ubben``) are rendered as the character they mean.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
# Beyond these an item is not a paper but a mistake or an attack: reject it, naming it.
HARD_TITLE = 10_000
HARD_SUMMARY = 200_000

_HTML_TAGS = (
    "a|abbr|acronym|address|area|article|aside|audio|b|base|bdi|bdo|big|blink|blockquote|body|"
    "br|button|canvas|caption|center|cite|code|col|colgroup|dd|del|details|dfn|dialog|div|dl|"
    "dt|em|embed|fieldset|figcaption|figure|font|footer|form|frame|frameset|h[1-6]|head|"
    "header|hr|html|i|iframe|img|input|ins|kbd|label|legend|li|link|main|mark|marquee|math|"
    "meta|nav|noscript|object|ol|optgroup|option|output|p|param|picture|pre|q|s|samp|script|"
    "section|select|small|source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|"
    "template|textarea|tfoot|th|thead|time|title|tr|track|tt|u|ul|var|video|wbr|xmp"
)
# Only HTML element names, bare or with name=value attributes, are markup: "a<b and c>d" in an
# abstract is mathematics.
_TAGS = re.compile(
    rf"<\s*/?\s*(?:{_HTML_TAGS})\s*/?\s*>|<\s*(?:{_HTML_TAGS})\s[^<>]{{0,2000}}=[^<>]{{0,2000}}>",
    re.IGNORECASE,
)
_DANGEROUS = re.compile(
    r"<\s*(script|style|iframe|object|embed|template|noscript|textarea|xmp)\b[^>]*>.*?"
    r"<\s*/\s*\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_TEX_ESCAPES = re.compile(r"\\([%&$#_{}])")
_TEX_SPACE = re.compile(r"\\(?= )")
_TEX_ACCENTS = re.compile(r"\{?\\(['`^\"~])\{?([A-Za-z])\}?\}?")
_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303"}
_CONTROL = dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)) | dict.fromkeys(
    [0x7F, 0x200E, 0x200F, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_CATEGORY = re.compile(r"^[a-z][a-z\-]{0,15}(?:\.[A-Za-z][A-Za-z\-]{0,14})?$")
_TOKEN = re.compile(r"^[\w.:@/+\-]{1,128}$")
_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>\"'`\\]")
_NEEDS_WORK = re.compile(r"[\x00-\x1f\x7f<&\\]")
_DOI = re.compile(r"^10\.\d{4,9}/[^\s<>\"'`\\]{1,200}$")


def clean_text(value: object, limit: int = MAX_SUMMARY, hard: int | None = None) -> str:
    """Plain, single-spaced text of at most ``limit`` characters ("…" marks a cut).
    ``hard``: raise ValueError instead when the raw value is longer than this."""
    if not isinstance(value, str):
        return ""
    if hard is not None and len(value) > hard:
        raise ValueError(f"{len(value):,} characters, over the {hard:,} limit")
    if _is_plain(value, limit):
        return value
    text = unicodedata.normalize("NFC", value[: limit * 4 + 1_000]).translate(_CONTROL)
    if "<" in text or "&" in text:
        text = _strip_markup(text)
    if "\\" in text:
        text = _tex(text)
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit].rstrip() + "…"
    return text


def _is_plain(value: str, limit: int) -> bool:
    """ASCII, single-spaced, no markup, entities, escapes or controls: nothing to do."""
    return (
        len(value) <= limit
        and value.isascii()
        and "  " not in value
        and not value.startswith(" ")
        and not value.endswith(" ")
        and not _NEEDS_WORK.search(value)
    )


def clean_title(value: object, hard: int | None = None) -> str:
    return clean_text(value, MAX_TITLE, hard)


def _strip_markup(text: str) -> str:
    for _ in range(2):  # twice, for markup that was entity-encoded once (&lt;b&gt;)
        text = _COMMENTS.sub(" ", text)
        text = _DANGEROUS.sub(" ", text)
        text = _TAGS.sub("", text)
        if "&" not in text:
            break
        text = html.unescape(text)
    return text.translate(_CONTROL)


def _tex(text: str) -> str:
    text = _TEX_ESCAPES.sub(r"\1", text)
    text = _TEX_SPACE.sub("", text)
    return unicodedata.normalize("NFC", _TEX_ACCENTS.sub(lambda m: m[2] + _ACCENTS[m[1]], text))


def clean_category(value: object) -> str | None:
    """An arXiv category (``cs.LG``, ``hep-th``, ``math.GT``), or None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if _CATEGORY.match(text) else None


def clean_categories(values: object) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        return ()
    found = (clean_category(v) for v in values)
    return tuple(dict.fromkeys(c for c in found if c))


def clean_token(value: object) -> str | None:
    """A short opaque identifier (HF discussion id, feed guid): printable, no spaces."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if _TOKEN.match(text) else None


def clean_doi(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().removeprefix("https://doi.org/").removeprefix("doi:")
    return text if _DOI.match(text) else None


def safe_url(value: object) -> str | None:
    """Only absolute http(s) URLs survive; ``javascript:``, ``data:`` and junk become None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > 2_000 or _BAD_URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url
