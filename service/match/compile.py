"""From a parsed interest to what the index matches: an OR of all-of clauses over terms.

Terms are frozen values, so the same keyword typed by a million subscribers is one term and is
looked for once per paper.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from service.match import authors
from service.match.nodes import (
    AllOf,
    AnyOf,
    Atom,
    Author,
    Category,
    Description,
    Keyword,
    Node,
    Without,
    atoms,
    informative_words,
)
from service.match.query import ParsedInterest, parse_interest
from service.match.text import analyze, exact_form, is_acronym, stem


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of writing a term: its stems, and exact forms where the stem is not enough
    (acronyms: "CLIP" is not "clipping")."""

    stems: tuple[str, ...]
    exact: tuple[str | None, ...] | None = None  # per token; None where the stem decides


@dataclass(frozen=True, slots=True)
class TextTerm:
    """A word or phrase and the variants that count as it: the phrase, its joined form
    ("selfsupervised"), an acronym's long forms ("RNN": "recurrent neural network")."""

    variants: tuple[Variant, ...]
    title_only: bool
    label: str


@dataclass(frozen=True, slots=True)
class CategoryTerm:
    key: str  # lower case: "cs.cv", or an archive: "cs"
    label: str


@dataclass(frozen=True, slots=True)
class AuthorTerm:
    name: authors.Name
    label: str


@dataclass(frozen=True, slots=True)
class DescriptionTerm:
    text: str
    words: tuple[TextTerm, ...]  # informative words, for the lexical fallback and the blend


Term = TextTerm | CategoryTerm | AuthorTerm | DescriptionTerm


@dataclass(frozen=True, slots=True)
class Clause:
    terms: tuple[Term, ...]  # all required
    excluded: tuple[Term, ...]  # none allowed


@dataclass(frozen=True, slots=True)
class CompiledInterest:
    clauses: tuple[Clause, ...]
    exclusion_only: bool  # "-survey" alone: filters the subscriber's other interests


@lru_cache(maxsize=1 << 20)
def compile_text(text: str) -> CompiledInterest:
    """Parse and compile an interest as stored; cached, since many subscribers share one and
    the index is rebuilt from the cache when interests change (only new ones are parsed). The
    cache holds every distinct interest of a large instance: a smaller one would be swept
    through in order by each rebuild and keep nothing."""
    return compile_interest(parse_interest(text))


def compile_interest(parsed: ParsedInterest) -> CompiledInterest:
    clauses = []
    for positive, negative in _dnf(parsed.root):
        wanted = tuple(dict.fromkeys(term_of(a) for a in positive if not _ignored(a)))
        unwanted = tuple(dict.fromkeys(term_of(a) for a in negative))
        clauses.append(Clause(wanted, unwanted))
    return CompiledInterest(tuple(clauses), parsed.exclusion_only)


def _ignored(atom: Atom) -> bool:
    return isinstance(atom, Keyword) and atom.ignored


def _dnf(node: Node) -> list[tuple[list[Atom], list[Atom]]]:
    if isinstance(node, AnyOf):
        return [clause for part in node.parts for clause in _dnf(part)]
    if isinstance(node, AllOf):
        combined: list[tuple[list[Atom], list[Atom]]] = [([], [])]
        for part in node.parts:
            combined = [
                (a_pos + b_pos, a_neg + b_neg)
                for (a_pos, a_neg), (b_pos, b_neg) in itertools.product(combined, _dnf(part))
            ]
        return combined
    if isinstance(node, Without):
        return [([], atoms(node.part))]
    return [([node], [])]


@lru_cache(maxsize=100_000)
def term_of(atom: Atom) -> Term:
    if isinstance(atom, Keyword):
        return text_term(atom.text, atom.title_only)
    if isinstance(atom, Category):
        return CategoryTerm(atom.code.lower(), atom.code)
    if isinstance(atom, Author):
        name = authors.parse_name(atom.name)
        assert name is not None  # the parser refuses names without letters
        return AuthorTerm(name, atom.name)
    assert isinstance(atom, Description)
    words = informative_words(atom.text)
    seen = dict.fromkeys(text_term(w, False) for w in words)
    return DescriptionTerm(atom.text, tuple(seen))


@lru_cache(maxsize=200_000)
def text_term(text: str, title_only: bool) -> TextTerm:
    analyzed = analyze(text)
    exact = tuple(exact_form(raw) if is_acronym(raw) else None for raw in analyzed.raw)
    variants = [Variant(analyzed.stems, exact if any(exact) else None)]
    if len(analyzed.stems) > 1:  # "self-supervised" also as "selfsupervised"
        variants.append(Variant((stem("".join(analyzed.exact)),)))
    return TextTerm(tuple(variants), title_only, text)


def acronym_of(term: TextTerm) -> str | None:
    """The acronym a one-word term is written as ("RNN" -> "rnn"), if it is one."""
    first = term.variants[0]
    if len(first.stems) == 1 and first.exact is not None and first.exact[0] is not None:
        return first.exact[0]
    return None


def description_texts(value: str) -> list[str]:
    """The descriptions a stored interest holds (raises InterestSyntaxError if it no longer
    parses)."""
    compiled = compile_text(value)
    found = (t.text for c in compiled.clauses for t in c.terms if isinstance(t, DescriptionTerm))
    return list(dict.fromkeys(found))


def descriptions_of(values: Iterable[str]) -> set[str]:
    """Every description held by these stored interests (those that no longer parse skipped)."""
    found: set[str] = set()
    for value in values:
        try:
            found.update(description_texts(value))
        except ValueError:
            continue
    return found
