"""Tokenisation a researcher finds natural.

Case-folded, accent-folded and Unicode-normalised; Snowball-stemmed so plurals and simple
inflections are equal; word boundaries always ("GAN" never matches "organ" or "began").
Acronyms keep an exact form next to their stem, so "CLIP" does not match "clipping", and their
plurals ("GANs", "LLMs") fold to the singular. British and American spellings are equal
("optimisation", "optimization").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")

_TEX_ACCENT = re.compile(
    r"\\(?:[`'^\"~=.]\s*(?:\{\s*([A-Za-z])\s*\}|([A-Za-z]))|[uvHc]\s*\{\s*([A-Za-z])\s*\})"
)
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)\s*")
_APOSTROPHE_S = re.compile(r"(?<=\w)['’]s\b")
_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")
_WORD = re.compile(r"[^\W_]+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_ACRONYM_PLURAL = re.compile(r"^[A-Z0-9][A-Za-z0-9]*[A-Z][A-Za-z0-9]*?s$")
_BRITISH = re.compile(r"(?<=[a-z]{4})is(ation|ations|e|ed|es|ing|er|ers)$")

# Words Porter's algorithm conflates with something a researcher would not: "transformer" with
# "transformation", "contrastive" with "contrasting", "objective" with "object", "positional" with
# "positive", "experience" with "experiments", "generalization" with "general", "normalization"
# with "normal", "initialization" with "initial", "continual" with "continuous". Each group keeps
# one stem of its own (British spellings are made American first).
_KEPT_APART = {
    "transformer": "transformer transformers",
    "operator": "operator operators",
    "optimizer": "optimizer optimizers",
    "generator": "generator generators",
    "continual": "continual continually",
    "contrastive": "contrastive contrastively",
    "objective": "objective objectives",
    "position": "position positions positional positionally positioned positioning",
    "experience": "experience experiences experienced",
    "generaliz": "generalization generalizations generalize generalizes generalized "
    "generalizing generalizable generalizability",
    "normaliz": "normalization normalizations normalize normalizes normalized normalizing",
    "initializ": "initialization initializations initialize initializes initialized initializing",
}
_PROTECTED = {form: kept for kept, forms in _KEPT_APART.items() for form in forms.split()}
_NOT_BRITISH = {"precise", "concise", "precisely", "concisely"}

_STOPWORDS = """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its itself
    just me more most my no nor not now of off on once only or other our ours out over own same
    she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will
    with would you your via using use used based like e.g i.e etc toward towards within without
    paper papers work works new novel propose proposed approach approaches method methods
    show shows shown study studies result results"""
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True, slots=True)
class Analyzed:
    """One field's tokens: ``stems`` for matching, ``exact`` (folded, unstemmed) for acronyms."""

    stems: tuple[str, ...]
    exact: tuple[str, ...]
    raw: tuple[str, ...]  # the words as written, for acronym detection


def fold(text: str) -> str:
    """TeX accents and commands resolved, compatibility forms unified, accents removed."""
    if "\\" in text:
        text = _TEX_COMMAND.sub(r"\1 ", _TEX_ACCENT.sub(_accented, text))
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    return _COMBINING.sub("", text)


def _accented(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g)


def raw_words(text: str) -> list[str]:
    """Words as written (case kept): possessives dropped, inner apostrophes removed."""
    text = fold(text)
    if "'" in text or "’" in text:
        text = _APOSTROPHE.sub("", _APOSTROPHE_S.sub("", text))
    return _WORD.findall(text)


def exact_form(word: str) -> str:
    """Lower-cased word; an acronym's plural folds to its singular ("GANs" -> "gan")."""
    if len(word) > 2 and _ACRONYM_PLURAL.match(word):
        word = word[:-1]
    return word.casefold()


def is_acronym(word: str) -> bool:
    """Acronym-like: "GAN", "CTR", "ViT", "LoRA", "S4" (two capitals, or one and a digit)."""
    capitals = sum(c.isupper() for c in word)
    return 2 <= len(word) <= 8 and (capitals >= 2 or (capitals == 1 and word[-1].isdigit()))


@lru_cache(maxsize=500_000)
def stem(word: str) -> str:
    """The stem of a lower-case word."""
    if word not in _NOT_BRITISH:
        word = _BRITISH.sub(r"iz\1", word)
    protected = _PROTECTED.get(word)
    if protected is not None:
        return protected
    return str(_stemmer.stemWord(word))


@lru_cache(maxsize=50_000)  # papers of the window are analysed again by every run and preview
def analyze(text: str) -> Analyzed:
    raw = raw_words(text)
    exact = [exact_form(w) for w in raw]
    return Analyzed(tuple(stem(w) for w in exact), tuple(exact), tuple(raw))


def tokens(text: str) -> list[str]:
    """Stems of the text, in order."""
    return list(analyze(text).stems)


def joined(left: str, right: str) -> str:
    """The stem of two adjacent words written as one ("self" + "supervised" -> "selfsupervis")."""
    return stem(left + right)
