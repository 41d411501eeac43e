"""Header values built by hand, one safe line each, folded only where we choose.

The stdlib ``email`` generator re-folds headers and, on the Python of these machines, turns a
literal ``=?UTF-8?Q?=0A?=`` in a Subject into a real line break (CVE-2024-6923). Nothing here
goes through it: values are cleaned (no control, bidi or invisible characters), non-ASCII and
any text that looks like an encoded word are RFC 2047-encoded, and folding happens only at
whitespace we put there. ``check_headers`` (D03) then verifies the bytes of every message.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_BAD = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e"
    r"\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffb]"
)
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+")
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,251})"
)
# Q-encoding keeps these as themselves inside an encoded word (RFC 2047 section 5, rule 3).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
LINE = 78
# RFC 2047 allows 75 per encoded word; shorter words keep "Subject: " + a word within 78.
WORD = 66


class HeaderValueError(ValueError):
    """A value that cannot go into a header safely (an address with spaces, say)."""


def clean_header(value: str, limit: int = 200) -> str:
    """One line, NFC, no control, bidi or invisible characters, at most ``limit`` characters."""
    text = unicodedata.normalize("NFC", value[: limit * 4])
    text = " ".join(_BAD.sub(" ", text).split())
    return text[:limit].rstrip()


_Q_CACHE: dict[str, str] = {}


def _q_char(ch: str) -> str:
    cached = _Q_CACHE.get(ch)
    if cached is not None:
        return cached
    out = []
    for byte in ch.encode("utf-8"):
        if byte in _Q_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("_")
        else:
            out.append(f"={byte:02X}")
    piece = "".join(out)
    if len(_Q_CACHE) < 4096:
        _Q_CACHE[ch] = piece
    return piece


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 Q encoded words of at most 75 characters, never splitting a
    character between two words."""
    words, current = [], ""
    room = WORD - len("=?utf-8?q??=")
    for ch in text:
        piece = _q_char(ch)
        if len(current) + len(piece) > room:
            words.append(f"=?utf-8?q?{current}?=")
            current = ""
        current += piece
    if current:
        words.append(f"=?utf-8?q?{current}?=")
    return words


def fold(name: str, tokens: list[str]) -> str:
    """``Name: tok tok ...`` folded before a token when a line would pass 78 columns. A token
    longer than a line stays whole on its own line (allowed up to 998)."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > LINE and line != f"{name}:":
            lines.append(line)
            line = " " + token
        else:
            line = f"{line} {token}"
    lines.append(line)
    return "\r\n".join(lines)


@lru_cache(maxsize=4096)  # an edition's subjects repeat from reader to reader
def unstructured(name: str, value: str, limit: int = 200) -> str:
    """A Subject-like header: plain folded ASCII when that is safe, encoded words otherwise
    (non-ASCII text, or text containing ``=?`` that a reader would decode as an encoded word)."""
    text = clean_header(value, limit)
    if _PRINTABLE_ASCII.fullmatch(text) and "=?" not in text:
        return fold(name, text.split(" ") if text else [])
    return fold(name, encoded_words(text))


def phrase(value: str, limit: int = 64) -> str:
    """A display name: an atom phrase as is, a quoted string, or encoded words."""
    text = clean_header(value, limit)
    if not text:
        return ""
    if _ATOM.fullmatch(text) and "=?" not in text:
        return text
    if _PRINTABLE_ASCII.fullmatch(text) and "=?" not in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return " ".join(encoded_words(text))


def address(value: str) -> str:
    """An ASCII addr-spec, or HeaderValueError: never a second address, never a line break.
    (A non-ASCII local part would need SMTPUTF8 end to end; paperpost does not send those.)"""
    if not _ADDRESS.fullmatch(value) or ".." in value or value.endswith("."):
        raise HeaderValueError(f"not a sendable ASCII address: {value[:80]!r}")
    return value


def mailbox(name: str, addr: str) -> str:
    shown = phrase(name)
    return f"{shown} <{address(addr)}>" if shown else address(addr)


def angle_uri(uri: str) -> str:
    """``<uri>`` for List-* headers: printable ASCII without spaces or angle brackets."""
    if not uri or not re.fullmatch(r"[!-;=?-~]+", uri):
        raise HeaderValueError(f"not a header-safe URI: {uri[:80]!r}")
    return f"<{uri}>"
