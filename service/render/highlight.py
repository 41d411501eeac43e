"""Highlight the words a subscriber's interest matched, as plain-text runs (never markup).

The match stage explains each match with reasons such as ``“mamba” in title``; the quoted
terms are found again in the title and abstract as whole words, case-insensitively, with the
usual inflections and hyphen/space forms ("GAN" marks "GANs", never "organ"). A template
prints marked runs inside ``<strong>``, escaped like any text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from service.render.views import Segment

_QUOTED = re.compile(r"[“\"‘«]([^”\"’»]{1,80})[”\"’»]")
MAX_TERMS = 12


def terms_from_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    """The quoted terms of the match reasons, in order, without repeats."""
    found: dict[str, None] = {}
    for reason in reasons:
        for term in _QUOTED.findall(reason):
            cleaned = " ".join(term.split())
            if cleaned and any(ch.isalnum() for ch in cleaned):
                found.setdefault(cleaned, None)
    return tuple(found)[:MAX_TERMS]


_WORD = re.compile(r"[^\W_]+")
_JOINERS = frozenset({"", " ", "-", "‐", "–", "- ", " -"})
SUFFIXES = ("s", "es", "ed", "ing", "al", "ic", "ity")


def _pieces(term: str) -> tuple[str, ...]:
    return tuple(w.casefold() for w in _WORD.findall(term))


@lru_cache(maxsize=4096)
def term_index(terms: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    """The terms' word pieces keyed by every form their first word may take in a text (a
    one-word term also by its inflections), longest phrase first."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for pieces in sorted({_pieces(t) for t in terms if _pieces(t)}, key=len, reverse=True):
        forms = [pieces[0]] + ([pieces[0] + s for s in SUFFIXES] if len(pieces) == 1 else [])
        for form in forms:
            index.setdefault(form, []).append(pieces)
    return index


@lru_cache(maxsize=8192)
def _words(text: str) -> tuple[tuple[tuple[int, int, str], ...], dict[int, int], str]:
    """The words of ``text`` with their positions, where each word starts, and the text in
    lower case (cached: a paper's text is the same string object in every reader's digest)."""
    words = tuple((m.start(), m.end(), m.group().casefold()) for m in _WORD.finditer(text))
    return words, {w[0]: i for i, w in enumerate(words)}, text.lower()


def _same(word: str, piece: str, last: bool) -> bool:
    if word == piece:
        return True
    return last and word.startswith(piece) and word[len(piece) :] in SUFFIXES


@lru_cache(maxsize=16384)  # a paper's title and abstract, highlighted for one interest
def segments(text: str, terms: tuple[str, ...] = ()) -> tuple[Segment, ...]:
    """``text`` as runs, the words of ``terms`` marked: whole words, case-insensitive, the
    usual inflections of a term's last word, and hyphen or space between a phrase's words.
    No regex is built per reader: words are looked up in a small index of the terms."""
    index = term_index(terms) if terms else {}
    if not index or not text:
        return (Segment(text),) if text else ()
    words, starts, lower = _words(text)
    if len(lower) == len(text):  # find the candidates by substring, not word by word
        found = sorted({i for key in index for i in _find_all(lower, key) if i in starts})
        positions = [starts[i] for i in found]
    else:
        positions = list(range(len(words)))
    spans: list[tuple[int, int]] = []
    after = 0  # the next word not yet inside a marked phrase
    for i in positions:
        if i < after:
            continue
        candidates = index.get(words[i][2])
        n = _match_at(text, words, i, candidates) if candidates else 0
        if n:
            spans.append((words[i][0], words[i + n - 1][1]))
            after = i + n
    return _runs(text, spans) if spans else (Segment(text),)


def _find_all(text: str, key: str) -> list[int]:
    out, at = [], text.find(key)
    while at >= 0:
        out.append(at)
        at = text.find(key, at + 1)
    return out


def _match_at(
    text: str,
    words: tuple[tuple[int, int, str], ...],
    i: int,
    candidates: list[tuple[str, ...]],
) -> int:
    """How many words from ``i`` on make one of the candidate terms (0: none)."""
    for pieces in candidates:
        n = len(pieces)
        if n == 1:
            return 1  # the index holds exactly the forms a one-word term may take
        if i + n > len(words):
            continue
        if all(
            _same(words[i + k][2], pieces[k], k == n - 1)
            and text[words[i + k - 1][1] : words[i + k][0]] in _JOINERS
            for k in range(1, n)
        ):
            return n
    return 0


def _runs(text: str, spans: list[tuple[int, int]]) -> tuple[Segment, ...]:
    out: list[Segment] = []
    last = 0
    for start, end in spans:
        if start > last:
            out.append(Segment(text[last:start]))
        out.append(Segment(text[start:end], mark=True))
        last = end
    if last < len(text):
        out.append(Segment(text[last:]))
    return tuple(out)


def reason_segments(reasons: Sequence[str]) -> tuple[Segment, ...]:
    """The reasons joined by "; ", each quoted term marked together with its quotes (a tag
    between a quote mark and a letter reads as word-splitting obfuscation to SpamAssassin)."""
    out: list[Segment] = []
    for i, reason in enumerate(reasons):
        if i:
            out.append(Segment("; "))
        last = 0
        for found in _QUOTED.finditer(reason):
            start, end = found.span()
            out.append(Segment(reason[last:start]))
            out.append(Segment(reason[start:end], mark=True))
            last = end
        out.append(Segment(reason[last:]))
    merged: list[Segment] = []
    for s in out:
        if merged and not s.mark and not merged[-1].mark:
            merged[-1] = Segment(merged[-1].text + s.text)
        elif s.text:
            merged.append(s)
    return tuple(merged)
