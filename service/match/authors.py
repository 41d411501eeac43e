"""Author names, normalised so "Kaiming He", "K. He", "He, Kaiming" and "KAIMING HE" are one
person, and "Dirk Wübben" is found by "Dirk Wubben"."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from service.match.text import fold

_PARTS = re.compile(r"[^\W\d_]+", re.UNICODE)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd"})
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "da", "di", "le", "la"})


@dataclass(frozen=True, slots=True)
class Name:
    given: tuple[str, ...]  # folded given names or initials, in order
    surname: str  # the folded last name, without particles: "van der Maaten" -> "maaten"

    @property
    def key(self) -> str:
        return self.surname


def parse_name(text: str) -> Name | None:
    """A name as typed or as listed on a paper; None when it has no letters."""
    folded = fold(text).casefold()
    if "," in folded:
        last, _, first = folded.partition(",")
        folded = f"{first} {last}"
    parts = [p for p in _PARTS.findall(folded.replace("-", "")) if p not in _SUFFIXES]
    if not parts:
        return None
    return Name(tuple(p for p in parts[:-1] if p not in _PARTICLES), parts[-1])


def same_person(wanted: Name, listed: Name) -> bool:
    """Same surname, and the given names agree as far as both are known (initials allowed).

    Also accepts the order swapped ("He Kaiming"), which is common for East Asian names.
    """
    if wanted.surname == listed.surname and _given_agree(wanted.given, listed.given):
        return True
    swapped = _swap(wanted)
    return swapped is not None and swapped == _swap_key(listed)


def _given_agree(wanted: tuple[str, ...], listed: tuple[str, ...]) -> bool:
    if not wanted or not listed:
        return True
    for a, b in zip(wanted, listed, strict=False):
        if not (a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))):
            return False
    return True


def _swap(name: Name) -> tuple[str, str] | None:
    if len(name.given) != 1 or len(name.given[0]) < 2:
        return None
    return (name.surname, name.given[0])


def _swap_key(name: Name) -> tuple[str, str] | None:
    if len(name.given) != 1:
        return None
    return (name.given[0], name.surname)


def display(text: str) -> str:
    """The name with single spaces and initials followed by a period: "k he" -> "K. He"."""
    words = []
    for part in unicodedata.normalize("NFC", text).replace(".", ". ").split():
        word = part.strip(".")
        if not word:
            continue
        words.append(f"{word.upper()}." if len(word) == 1 else word[:1].upper() + word[1:])
    return " ".join(words)
