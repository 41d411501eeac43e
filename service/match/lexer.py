"""Split an interest into lexemes: words, quoted phrases, fields, parentheses and operators."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.match.nodes import InterestSyntaxError

# Field prefixes, with the arXiv search shorthands people already know.
FIELDS = {
    "cat": "cat",
    "category": "cat",
    "author": "author",
    "au": "author",
    "title": "title",
    "ti": "title",
    "about": "about",
}
QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "”": "”"}
_STOP = set("()") | set(QUOTES)
_FIELD_NAME = re.compile(r"[A-Za-z]{2,12}")


@dataclass(frozen=True, slots=True)
class Lexeme:
    kind: str  # word, phrase, field, (, ), OR, AND, NOT
    value: str
    position: int


def lex(source: str) -> list[Lexeme]:
    out: list[Lexeme] = []
    at = 0
    while at < len(source):
        char = source[at]
        if char.isspace():
            at += 1
        elif char in "()":
            out.append(Lexeme(char, char, at))
            at += 1
        elif char in QUOTES:
            at = _phrase(source, at, out)
        elif char == "-" and at + 1 < len(source) and not source[at + 1].isspace():
            if source[at + 1] == "-":
                raise InterestSyntaxError(
                    "Two minus signs in a row.", at, "One is enough to exclude: -survey."
                )
            out.append(Lexeme("NOT", "-", at))
            at += 1
        elif char == "|":
            out.append(Lexeme("OR", "|", at))
            at += 1
        else:
            at = _word(source, at, out)
    return out


def _phrase(source: str, start: int, out: list[Lexeme]) -> int:
    closing = QUOTES[source[start]]
    end = source.find(closing, start + 1)
    if closing == "”" and end < 0:
        end = source.find('"', start + 1)
    if end < 0:
        raise InterestSyntaxError(
            "This quote is never closed.", start, f"Add a closing {closing} after the phrase."
        )
    text = source[start + 1 : end].strip()
    if not text:
        raise InterestSyntaxError(
            "These quotes hold nothing.", start, "Put the words of the phrase between them."
        )
    out.append(Lexeme("phrase", text, start))
    return end + 1


def _word(source: str, start: int, out: list[Lexeme]) -> int:
    end = start
    while end < len(source) and not source[end].isspace() and source[end] not in _STOP:
        end += 1
    run = source[start:end]
    if run in ("OR", "AND", "NOT"):
        out.append(Lexeme(run, run, start))
        return end
    name, colon, rest = run.partition(":")
    if colon and _FIELD_NAME.fullmatch(name):
        field = FIELDS.get(name.lower())
        if field is None:
            raise InterestSyntaxError(
                f"“{name}:” is not a field paperpost knows.",
                start,
                "Use cat:, author:, title: or about:, or put the text in quotes to match it as is.",
            )
        out.append(Lexeme("field", name.lower(), start))
        if rest:
            out.append(Lexeme("word", rest, start + len(name) + 1))
        return end
    out.append(Lexeme("word", run, start))
    return end
