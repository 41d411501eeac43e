"""The naive matcher: every (interest, paper) pair checked on pre-tokenised papers, no index.

The same rules as the percolator (terms found by scanning each paper's token lists, the same
scoring functions), without its candidate generation: the baseline of the benchmark and the
oracle of the equivalence tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.match import acronyms, authors, categories
from service.match.clauses import ClauseIds, Context, best_of, clauses_of, score_clause
from service.match.compile import (
    AuthorTerm,
    CategoryTerm,
    CompiledInterest,
    DescriptionTerm,
    Term,
    TextTerm,
)
from service.match.describe import LEXICAL_WEIGHT, MIN_REFERENCE, MIN_Z, TOP_SCORE
from service.match.index import DocHits, definitions
from service.match.score import CorpusStats, MatchConfig, boost, strength
from service.match.text import Analyzed, analyze, stem
from service.match.types import PaperDoc


@dataclass(frozen=True)
class Tokenised:
    paper: PaperDoc
    fields: tuple[Analyzed, Analyzed]  # title, abstract
    joined: tuple[list[str], list[str]]  # stem of each adjacent pair written as one word
    definitions: tuple[tuple[str, tuple[str, ...]], ...]
    names: list[tuple[authors.Name, str]]
    vector: np.ndarray | None


def tokenise(paper: PaperDoc, vector: np.ndarray | None = None) -> Tokenised:
    fields = (analyze(paper.title), analyze(paper.summary))
    joined = tuple(
        [stem(f.exact[i] + f.exact[i + 1]) for i in range(len(f.exact) - 1)] for f in fields
    )
    names = [(n, a) for a in paper.authors if (n := authors.parse_name(a)) is not None]
    return Tokenised(paper, fields, joined, definitions(paper.summary), names, vector)  # type: ignore[arg-type]


def text_hits(term: TextTerm, doc: Tokenised) -> tuple[list[int], list[int]] | None:
    found: tuple[set[int], set[int]] = (set(), set())
    for field, (analyzed, joined) in enumerate(zip(doc.fields, doc.joined, strict=True)):
        if field == 1 and term.title_only:
            continue
        for variant in term.variants:
            width = len(variant.stems)
            for i in range(len(analyzed.stems) - width + 1):
                if analyzed.stems[i : i + width] != variant.stems:
                    continue
                if variant.exact is None or all(
                    w is None or analyzed.exact[i + k] == w for k, w in enumerate(variant.exact)
                ):
                    found[field].add(i)
            word = variant.stems[0]
            if width == 1 and variant.exact is None and len(word) >= 5:
                for i, whole in enumerate(joined):
                    left = analyzed.exact[i]
                    if whole == word and word.startswith(left) and 2 <= len(left) <= len(word) - 3:
                        found[field].add(i)
    if not found[0] and not found[1]:
        return None
    _aliases(term, doc, found[1])
    return sorted(found[0]), sorted(found[1])


def _aliases(term: TextTerm, doc: Tokenised, abstract: set[int]) -> None:
    stems, exact = doc.fields[1].stems, doc.fields[1].exact
    for short, long_form in doc.definitions:
        if term.variants[0].stems == (stem(short),):
            width = len(long_form)
            abstract.update(
                i for i in range(len(stems) - width + 1) if stems[i : i + width] == long_form
            )
        elif term.variants[0].stems == long_form:
            abstract.update(i for i, e in enumerate(exact) if e == short)


def doc_for(terms: Sequence[Term], doc: Tokenised) -> DocHits:
    """The hits of these terms (ids = positions) in one paper, found by scanning its tokens."""
    out = DocHits(len(doc.fields[0].stems), len(doc.fields[1].stems))
    for term_id, term in enumerate(terms):
        if isinstance(term, TextTerm):
            if (hit := text_hits(term, doc)) is not None:
                out.hits[term_id] = hit
        elif isinstance(term, CategoryTerm):
            for category in doc.paper.categories:
                if term.key in categories.keys_of(category):
                    out.categories.setdefault(term_id, category)
        elif isinstance(term, AuthorTerm):
            for name, listed in doc.names:
                if authors.same_person(term.name, name):
                    out.authors.setdefault(term_id, listed)
    return out


class NaiveMatcher:
    """One interest against every paper, term by term: what the percolator must agree with."""

    def __init__(self, papers: Sequence[Tokenised], config: MatchConfig) -> None:
        self.papers = papers
        self.config = config
        known = acronyms.learn(p.paper.summary for p in papers)
        self.acronyms, self.long_forms = known, acronyms.by_long_form(known)

    def match(
        self,
        compiled: CompiledInterest,
        excluding: bool,
        now: dt.datetime,
        vectors: dict[str, np.ndarray] | None,
    ) -> dict[int, tuple[float, tuple[str, ...]]]:
        """paper index -> (score after boosts, reasons) for the papers this interest gets."""
        terms: list[Term] = []
        clauses = [self._clause(c, terms) for c in clauses_of(compiled)]
        docs = [doc_for(terms, paper) for paper in self.papers]
        stats = CorpusStats.of(docs)
        described = self._describe(terms, docs, stats, vectors)
        found = {}
        context = Context(terms, [stats.idf(t) for t in range(len(terms))], self.config)
        for number, doc in enumerate(docs):
            present = (
                set(doc.hits) | set(doc.categories) | set(doc.authors) | set(described[number])
            )
            strengths = {t: strength(e, doc, stats, self.config) for t, e in doc.hits.items()}
            options = [
                score_clause(c, doc, strengths, described[number], context)
                for c in clauses
                if c.terms and present.issuperset(c.terms) and present.isdisjoint(c.excluded)
            ]
            if options:
                score, reasons = best_of(options)
                if excluding or compiled.exclusion_only or score >= self.config.threshold:
                    paper = self.papers[number].paper
                    when = paper.published_at or paper.ingested_at
                    found[number] = (score * boost(paper.upvotes, when, now, self.config), reasons)
        return found

    def _clause(self, clause: object, terms: list[Term]) -> ClauseIds:
        ids = []
        for term in clause.terms:  # type: ignore[attr-defined]
            if isinstance(term, TextTerm):
                term = acronyms.expand(term, self.acronyms, self.long_forms)
            if term not in terms:
                terms.append(term)
            ids.append(terms.index(term))
        excluded = []
        for term in clause.excluded:  # type: ignore[attr-defined]
            if isinstance(term, TextTerm):
                term = acronyms.expand(term, self.acronyms, self.long_forms)
            if term not in terms:
                terms.append(term)
            excluded.append(terms.index(term))
        if any(isinstance(terms[i], DescriptionTerm) for i in ids):
            for i in [i for i in ids if isinstance(terms[i], DescriptionTerm)]:
                for word in terms[i].words:  # type: ignore[union-attr]
                    if word not in terms:
                        terms.append(word)
        kinds = [terms[i] for i in ids]
        return ClauseIds(
            0,
            tuple(ids),
            tuple(excluded),
            tuple(i for i, t in zip(ids, kinds, strict=True) if isinstance(t, TextTerm)),
            tuple(i for i, t in zip(ids, kinds, strict=True) if isinstance(t, DescriptionTerm)),
            tuple(
                i
                for i, t in zip(ids, kinds, strict=True)
                if isinstance(t, CategoryTerm | AuthorTerm)
            ),
        )

    def _describe(
        self,
        terms: list[Term],
        docs: list[DocHits],
        stats: CorpusStats,
        vectors: dict[str, np.ndarray] | None,
    ) -> list[dict[int, tuple[float, str]]]:
        out: list[dict[int, tuple[float, str]]] = [{} for _ in docs]
        config = self.config
        for term_id, term in enumerate(terms):
            if not isinstance(term, DescriptionTerm):
                continue
            words = [terms.index(w) for w in term.words]
            idf = np.array([stats.idf(w) for w in words])
            weights = idf / idf.sum() if len(words) else idf
            sims = None
            if vectors is not None:
                query = vectors[term.text]
                sims = [
                    float(query @ p.vector) if p.vector is not None else None for p in self.papers
                ]
                known = [s for s in sims if s is not None]
                mean = np.mean(known) if len(known) >= MIN_REFERENCE else None
                std = np.std(known) if len(known) >= MIN_REFERENCE else 0.0
            for number, doc in enumerate(docs):
                share = sum(
                    w * min(strength(doc.hits[i], doc, stats, config), 1.0)
                    for i, w in zip(words, weights, strict=True)
                    if i in doc.hits
                )
                if sims is not None and sims[number] is not None:
                    cosine = sims[number]
                    value = cosine + LEXICAL_WEIGHT * share
                    if value < config.semantic_threshold:
                        continue
                    if mean is not None and cosine - mean < MIN_Z * std:
                        continue
                    span = TOP_SCORE - config.semantic_threshold
                    score = config.threshold + (value - config.semantic_threshold) / span * (
                        1 - config.threshold
                    )
                    out[number][term_id] = (score, f"similar to your description, {cosine:.2f}")
                elif share >= config.lexical_threshold:
                    floor = config.lexical_threshold
                    score = config.threshold + (share - floor) / (1 - floor) * (
                        1 - config.threshold
                    )
                    out[number][term_id] = (score, "lexical")
        return out
