"""The term index: every distinct term of every interest, found in a paper in one scan.

Words and phrases go into an Aho-Corasick automaton over the paper's stems (space-delimited, so
matches fall on word boundaries); categories and authors into dictionaries. Scanning a paper
returns, for each term it contains, the token positions in the title and in the abstract.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import ahocorasick

from service.match import authors, categories
from service.match.compile import AuthorTerm, CategoryTerm, DescriptionTerm, Term, TextTerm
from service.match.text import Analyzed, analyze, raw_words, stem
from service.match.types import PaperDoc

_DEFINITION = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]{1,9})\s*\)")
_SEPARATOR = "\x1f"  # between title and abstract: no phrase spans both


@dataclass(slots=True)
class DocHits:
    """Where each term occurs in one paper (positions per field), and the field lengths."""

    title_len: int
    abstract_len: int
    hits: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)  # term id -> the paper's category
    authors: dict[int, str] = field(default_factory=dict)  # term id -> the author as listed

    def add(self, term_id: int, in_title: bool, position: int) -> None:
        entry = self.hits.get(term_id)
        if entry is None:
            entry = self.hits[term_id] = ([], [])
        positions = entry[0] if in_title else entry[1]
        if position not in positions:
            positions.append(position)


class TermIndex:
    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = list(terms)
        self._automaton = ahocorasick.Automaton()
        patterns: dict[str, list[tuple[int, tuple[str | None, ...] | None]]] = {}
        self._title_only = [isinstance(t, TextTerm) and t.title_only for t in self.terms]
        self._single: dict[str, list[int]] = defaultdict(list)  # one-stem variants
        self._left_parts: set[str] = set()  # word beginnings of those, for joined bigrams
        self._openings: set[str] = set()  # their first five letters
        self._by_stems: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self._categories: dict[str, list[int]] = defaultdict(list)
        self._authors: dict[str, list[int]] = defaultdict(list)
        for term_id, term in enumerate(self.terms):
            if isinstance(term, TextTerm):
                self._add_text(term_id, term, patterns)
            elif isinstance(term, CategoryTerm):
                self._categories[term.key].append(term_id)
            elif isinstance(term, AuthorTerm):
                for key in _author_keys(term.name):
                    self._authors[key].append(term_id)
        for key, values in patterns.items():
            self._automaton.add_word(key, (len(key), tuple(values)))
        if patterns:
            self._automaton.make_automaton()
        self.has_text = bool(patterns)

    def _add_text(
        self,
        term_id: int,
        term: TextTerm,
        patterns: dict[str, list[tuple[int, tuple[str | None, ...] | None]]],
    ) -> None:
        for variant in term.variants:
            key = f" {' '.join(variant.stems)} "
            patterns.setdefault(key, []).append((term_id, variant.exact))
            if len(variant.stems) == 1 and variant.exact is None and len(variant.stems[0]) >= 5:
                word = variant.stems[0]
                self._single[word].append(term_id)
                self._left_parts.update(word[:cut] for cut in range(2, len(word) - 2))
                self._openings.add(word[:5])
        self._by_stems[term.variants[0].stems].append(term_id)

    def scan(self, paper: PaperDoc) -> DocHits:
        title, abstract = analyze(paper.title), analyze(paper.summary)
        doc = DocHits(len(title.stems), len(abstract.stems))
        if self.has_text:
            self._scan_text(doc, title, abstract)
            self._joined(doc, title, True)
            self._joined(doc, abstract, False)
            self._aliases(doc, paper.summary, abstract)
        self._scan_categories(doc, paper.categories)
        self._scan_authors(doc, paper.authors)
        return doc

    def _scan_text(self, doc: DocHits, title: Analyzed, abstract: Analyzed) -> None:
        stems = [*title.stems, _SEPARATOR, *abstract.stems]
        exact = [*title.exact, _SEPARATOR, *abstract.exact]
        starts: dict[int, int] = {}
        offset = 0
        for index, token in enumerate(stems):
            starts[offset] = index  # the space before each token
            offset += len(token) + 1
        text = " " + " ".join(stems) + " "
        boundary = len(title.stems)
        title_only = self._title_only
        for end, (length, entries) in self._automaton.iter(text):
            first = starts[end - length + 1]
            in_title = first < boundary
            position = first if in_title else first - boundary - 1
            for term_id, want in entries:
                if want is not None and not _exact_ok(exact, first, want):
                    continue
                if in_title or not title_only[term_id]:
                    doc.add(term_id, in_title, position)

    def _joined(self, doc: DocHits, field: Analyzed, in_title: bool) -> None:
        """ "self supervised" written apart counts for a "selfsupervised" term."""
        left_parts, openings = self._left_parts, self._openings
        exact = field.exact
        for i in range(len(exact) - 1):
            if exact[i] in left_parts and (exact[i] + exact[i + 1])[:5] in openings:
                whole = stem(exact[i] + exact[i + 1])
                if not whole.startswith(exact[i]) or len(whole) - len(exact[i]) < 3:
                    continue
                for term_id in self._single.get(whole, ()):
                    if in_title or not self._title_only[term_id]:
                        doc.add(term_id, in_title, i)

    def _aliases(self, doc: DocHits, summary: str, abstract: Analyzed) -> None:
        """An acronym defined in the abstract ("click-through rate (CTR)") counts for the long
        form and the long form for the acronym, so later mentions of either add up."""
        for short, long_form in definitions(summary):
            short_ids = self._by_stems.get((stem(short),), [])
            long_ids = self._by_stems.get(long_form, [])
            if not short_ids and not long_ids:
                continue
            short_at = [i for i, e in enumerate(abstract.exact) if e == short]
            long_at = _phrase_positions(abstract.stems, long_form)
            for ids, extra in ((short_ids, long_at), (long_ids, short_at)):
                for term_id in ids:
                    if term_id in doc.hits:
                        doc.hits[term_id][1].extend(
                            p for p in extra if p not in doc.hits[term_id][1]
                        )

    def _scan_categories(self, doc: DocHits, listed: Sequence[str]) -> None:
        for category in listed:
            for key in categories.keys_of(category):
                for term_id in self._categories.get(key, ()):
                    doc.categories.setdefault(term_id, category)

    def _scan_authors(self, doc: DocHits, listed: Sequence[str]) -> None:
        if not self._authors:
            return
        for author in listed:
            name = authors.parse_name(author)
            if name is None:
                continue
            initial = name.given[0][:1] if name.given else ""
            keys = [f"{name.surname} {initial}", f"{name.surname} "]
            if len(name.given) == 1:
                keys.append(f"{name.given[0]} {name.surname[:1]}")  # listed "He Kaiming"?
            for key in keys:
                for term_id in self._authors.get(key, ()):
                    term = self.terms[term_id]
                    assert isinstance(term, AuthorTerm)
                    if authors.same_person(term.name, name):
                        doc.authors.setdefault(term_id, author)

    def description_terms(self) -> list[tuple[int, DescriptionTerm]]:
        return [(i, t) for i, t in enumerate(self.terms) if isinstance(t, DescriptionTerm)]


def prepare(papers: Iterable[PaperDoc]) -> None:
    """Analyse the papers' titles and abstracts ahead of a scan, filling the caches the scan
    reads (the beat job does it while the database groups the interests)."""
    for paper in papers:
        analyze(paper.title)
        analyze(paper.summary)
        definitions(paper.summary)


def _author_keys(name: authors.Name) -> list[str]:
    """Where an author interest is filed: surname and first initial ("he k"), or the surname
    alone when no given name was typed ("he "); "He Kaiming" also swapped ("kaiming h")."""
    keys = [f"{name.surname} {name.given[0][:1] if name.given else ''}"]
    if len(name.given) == 1 and len(name.given[0]) > 1:
        keys.append(f"{name.given[0]} {name.surname[:1]}")
    return keys


def _exact_ok(exact: list[str], first: int, want: tuple[str | None, ...]) -> bool:
    return all(w is None or exact[first + i] == w for i, w in enumerate(want))


def _phrase_positions(stems: tuple[str, ...], phrase: tuple[str, ...]) -> list[int]:
    width = len(phrase)
    return [i for i in range(len(stems) - width + 1) if stems[i : i + width] == phrase]


@lru_cache(maxsize=50_000)
def definitions(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Acronyms defined in the text: [("ctr", ("click", "through", "rate")), ...].

    The long form is found right before the parenthesis, its words' letters spelling the
    acronym in order with the first letter starting a word (Schwartz and Hearst, 2003).
    """
    found = []
    for match in _DEFINITION.finditer(text):
        short = match.group(1)
        if sum(c.isupper() for c in short) < 2:
            continue
        before = raw_words(text[: match.start()])[-(min(len(short) + 5, 2 * len(short))) :]
        long_form = _long_form(short.rstrip("s") if short.endswith("s") else short, before)
        if long_form:
            analyzed = analyze(" ".join(long_form))
            found.append((analyze(short).exact[0], analyzed.stems))
    return tuple(found)


def _long_form(short: str, words: list[str]) -> list[str] | None:
    letters = [c.lower() for c in short if c.isalnum()]
    text = " ".join(words).lower()
    at = len(text) - 1
    for index in range(len(letters) - 1, -1, -1):
        letter = letters[index]
        while at >= 0 and (
            text[at] != letter or (index == 0 and at > 0 and text[at - 1].isalnum())
        ):
            at -= 1
        if at < 0:
            return None
        at -= 1
    start = text.rfind(" ", 0, at + 1) + 1
    chosen = text[start:].split()
    return chosen if 2 <= len(chosen) <= len(letters) + 2 else None
