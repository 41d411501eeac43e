"""Tokenisation a researcher finds natural: case-folded, Unicode-normalised, Snowball-stemmed,
word boundaries always ("GAN" never matches "organ")."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(folded)


def tokens(text: str) -> list[str]:
    return [stem(w) for w in words(text)]
