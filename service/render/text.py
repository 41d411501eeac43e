"""Text hygiene and layout for mail: one-line fields without control or bidi characters,
abstracts cut at a sentence boundary, and the plain-text part wrapped at 78 columns."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Sequence

WIDTH = 78
ABSTRACT_CHARS = 420
MAX_AUTHORS = 4
MAX_INPUT = 4_000  # of an abstract, before cutting: a 100 KB abstract costs nothing more

# C0/C1 controls, line/paragraph separators, bidi embeddings, overrides and isolates, and the
# invisible marks used to disguise text. Removed from every field a mail shows.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9(\"'])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Figs|Eq|Eqs|Sec|Tab|No|approx|resp|Dr|Prof)\.|\b[A-Z]\.)$"
)


def one_line(value: str | None, limit: int = 300) -> str:
    """NFC, no control or bidi characters, whitespace collapsed, at most ``limit`` characters."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value[: limit * 4])
    text = _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()
    if len(text) > limit:
        text = text[: text.rfind(" ", 0, limit) if " " in text[:limit] else limit].rstrip() + " …"
    return text


def sentences(text: str) -> list[str]:
    parts = _SENTENCE_END.split(text)
    out: list[str] = []
    for part in parts:
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def cut_abstract(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """The abstract cut at the sentence boundary nearest below ``limit`` characters (at least
    one sentence); a first sentence far over the limit is cut at a word, with an ellipsis."""
    text = one_line(text, MAX_INPUT)
    if len(text) <= limit:
        return text
    out = ""
    for sentence in sentences(text):
        if out and len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}" if out else sentence
    if len(out) > limit * 1.5:
        cut = out.rfind(" ", 0, limit)
        out = out[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + " …"
    elif len(out) < len(text):
        out = out.rstrip() + " …" if not out.endswith((".", "!", "?")) else out
    return out


def authors_line(authors: Sequence[str]) -> str:
    names = [one_line(a, 120) for a in authors]
    names = [n for n in names if n]
    if len(names) <= MAX_AUTHORS:
        return ", ".join(names)
    return ", ".join(names[: MAX_AUTHORS - 1]) + " et al."


_wrapper = textwrap.TextWrapper(
    width=WIDTH, break_long_words=False, break_on_hyphens=False, expand_tabs=False
)
_breaking = textwrap.TextWrapper(
    width=WIDTH, break_long_words=True, break_on_hyphens=False, expand_tabs=False
)


def wrap(text: str, indent: str = "", first: str | None = None) -> str:
    """``text`` wrapped at 78 columns: first line prefixed by ``first`` (default ``indent``),
    the rest by ``indent``. A word longer than a line is broken, unless the text holds a URL
    (a broken URL cannot be followed; it stays whole on its own line)."""
    if not text:
        return ""
    head = indent if first is None else first
    if len(head) + len(text) <= WIDTH and "\n" not in text:
        return head + text
    wrapper = _wrapper if "://" in text else _breaking
    wrapper.initial_indent = head
    wrapper.subsequent_indent = indent
    return "\n".join(wrapper.wrap(text))


def wrap_text(text: str, width: int = WIDTH) -> str:
    """A last pass over a whole text part: any line over 78 columns that can be broken is
    re-wrapped with its own indentation; lines that are one long word (a URL) stay."""
    lines = text.split("\n")
    if (
        "\r" not in text
        and " \n" not in text
        and all(len(x) <= width or " " not in x for x in lines)
    ):
        return text.strip("\n") + "\n"
    out = []
    for line in text.splitlines():
        line = line.rstrip()
        if len(line) <= width or " " not in line.strip():
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.append(wrap(line.strip(), indent))
    return "\n".join(out).strip("\n") + "\n"
