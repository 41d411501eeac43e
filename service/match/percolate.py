"""The percolator: distinct interests indexed once, each paper scanned once against them.

Each interest is an OR of all-of clauses. A clause is anchored on its rarest term in the
current papers, so a paper only visits the clauses anchored on a term it contains; the other
terms of the clause are then checked by set membership. Nothing loops over subscribers: the
hits are per distinct interest and are fanned out to subscribers afterwards (``combine``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.match.acronyms import Acronyms, by_long_form, expand
from service.match.clauses import OTHER_CLAUSE_BONUS, ClauseIds, Context, clauses_of, score_clause
from service.match.compile import (
    AuthorTerm,
    CategoryTerm,
    Clause,
    CompiledInterest,
    DescriptionTerm,
    Term,
    TextTerm,
)
from service.match.describe import DescriptionScores
from service.match.hits import I64, Hits, Occurrences, Postings, best_per_pair, concat
from service.match.index import DocHits, TermIndex
from service.match.score import CorpusStats, MatchConfig
from service.match.types import PaperDoc

MAX_EXCLUDED = 8  # exclusions checked with array operations; more go the slow path


_TEXT, _DESCRIPTION, _FILTER = 0, 1, 2


class Percolator:
    def __init__(
        self, interests: Sequence[tuple[CompiledInterest, bool]], acronyms: Acronyms | None = None
    ) -> None:
        """``interests``: (compiled, exclude) pairs; an excluding interest's hits mean "not
        this paper" for its subscribers (exclusion-only interests and negated rows).

        Built in one pass with a few list appends per clause: the job rebuilds it whenever an
        interest (or an acronym the window defines) changes, from compiled interests cached
        by text, so building must cost far less than matching."""
        self._ids: dict[Term, int] = {}
        # Compiled interests share their term objects: looked up by identity, a term is
        # hashed (a walk of its nested fields) once per build instead of once per clause.
        self._by_object: dict[int, int] = {}
        self._acronyms = acronyms or {}
        self._long_forms = by_long_form(self._acronyms)
        self._expanded: dict[TextTerm, TextTerm] = {}
        self.excluding = [exclude or c.exclusion_only for c, exclude in interests]
        self._excluding = np.array(self.excluding, dtype=bool)
        self._build(interests)
        self.index = TermIndex(list(self._ids))
        self.descriptions = [
            (term_id, term, tuple(self._ids[w] for w in term.words))
            for term_id, term in self.index.description_terms()
        ]

    def _build(self, interests: Sequence[tuple[CompiledInterest, bool]]) -> None:
        """Clauses with one required term (most interests, with or without exclusions) go to
        postings matched with array operations, numbered in order; the rest (``complex``) are
        anchored on their rarest term and checked one by one."""
        terms: list[int] = []  # per simple clause: its term, its kind, its interest
        kinds: list[int] = []
        owners: list[int] = []
        excluded: list[tuple[int, list[int]]] = []  # (simple clause, excluded terms)
        self.complex: list[ClauseIds] = []
        term_of, kind_of = self._term, _kind
        for number, (compiled, _) in enumerate(interests):
            for clause in clauses_of(compiled):
                required = clause.terms
                if len(required) != 1 or len(clause.excluded) > MAX_EXCLUDED:
                    if required:
                        self.complex.append(self._clause(number, clause))
                    continue
                if clause.excluded:
                    excluded.append((len(terms), [term_of(t) for t in clause.excluded]))
                terms.append(term_of(required[0]))
                kinds.append(kind_of(required[0]))
                owners.append(number)
        term, kind = np.array(terms, I64), np.array(kinds, I64)
        self.simple_text = _postings(term, kind == _TEXT, len(self._ids))
        self.simple_descriptions = _postings(term, kind == _DESCRIPTION, len(self._ids))
        self.simple_filters = _postings(term, kind == _FILTER, len(self._ids))
        width = max((len(ids) for _, ids in excluded), default=1)
        self._excluded = np.full((len(terms), width), -1, dtype=I64)
        for number, ids in excluded:
            self._excluded[number, : len(ids)] = ids
        self._interest_of = np.array(owners, I64)
        complex_ = self.complex
        self._complex_interest = np.array([c.interest for c in complex_], I64)
        self._required = _lists([c.terms for c in complex_])
        self._forbidden = _lists([c.excluded for c in complex_])
        self._anchor_terms = _lists(
            [tuple(t for t in c.terms if t not in c.descriptions) or c.terms[:1] for c in complex_]
        )

    def _term(self, term: Term) -> int:
        found = self._by_object.get(id(term))
        if found is not None:
            return found
        given = term
        if isinstance(term, DescriptionTerm):
            for word in term.words:
                self._ids.setdefault(word, len(self._ids))
        elif isinstance(term, TextTerm):
            term = self._expand(term)
        found = self._by_object[id(given)] = self._ids.setdefault(term, len(self._ids))
        return found

    def _expand(self, term: TextTerm) -> TextTerm:
        found = self._expanded.get(term)
        if found is None:
            found = self._expanded[term] = expand(term, self._acronyms, self._long_forms)
        return found

    def _clause(self, number: int, clause: Clause) -> ClauseIds:
        terms = tuple([self._term(t) for t in clause.terms])
        pairs = list(zip(terms, clause.terms, strict=True))
        return ClauseIds(
            number,
            terms,
            tuple([self._term(t) for t in clause.excluded]),
            tuple([i for i, t in pairs if isinstance(t, TextTerm)]),
            tuple([i for i, t in pairs if isinstance(t, DescriptionTerm)]),
            tuple([i for i, t in pairs if isinstance(t, CategoryTerm | AuthorTerm)]),
        )

    def scan(self, papers: Sequence[PaperDoc]) -> list[DocHits]:
        return [self.index.scan(paper) for paper in papers]

    def anchors(self, stats: CorpusStats) -> Postings:
        """term -> the complex clauses (by position) anchored on it: each clause's rarest
        word, phrase, category or author in the window (the first on a tie), or its first
        description when it has nothing else."""
        clauses = len(self.complex)
        candidates = self._anchor_terms
        df = np.zeros(len(self._ids), dtype=I64)
        if stats.df:
            df[np.fromiter(stats.df.keys(), I64)] = np.fromiter(stats.df.values(), I64)
        owner = np.repeat(np.arange(clauses, dtype=I64), np.diff(candidates.indptr))
        order = np.lexsort((np.arange(len(owner)), df[candidates.values], owner))
        first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if clauses else order
        return _postings(candidates.values[first], np.ones(clauses, dtype=bool), len(self._ids))

    def match(
        self,
        docs: Sequence[DocHits],
        stats: CorpusStats,
        descriptions: DescriptionScores,
        config: MatchConfig,
    ) -> Hits:
        """Every (interest, paper) pair that passes the threshold, with its score and reasons
        (an excluding interest's pairs are all kept: they remove papers later)."""
        reasons: list[tuple[str, ...]] = []
        found = Occurrences.of(docs, stats, config)
        present = _present(docs, found, descriptions, len(self._ids))
        simple = [
            self._simple_text(found, reasons),
            self._simple_descriptions(descriptions, reasons),
            self._simple_filters(docs, config, reasons),
        ]
        parts = [self._allowed(part, present) for part in simple]
        parts.append(self._complex(docs, stats, found, descriptions, config, reasons, present))
        hits = best_per_pair(concat(parts, reasons), len(docs), OTHER_CLAUSE_BONUS)
        return hits.take(
            np.flatnonzero((hits.score >= config.threshold) | self._excluding[hits.interest])
        )

    def _allowed(self, hits: Hits, present: np.ndarray) -> Hits:
        """Clause hits (``interest`` holds clause numbers) without an excluded term present,
        as interest hits."""
        excluded = self._excluded[hits.interest]
        keys = hits.paper[:, None] * len(self._ids) + excluded
        at = np.minimum(np.searchsorted(present, keys), max(len(present) - 1, 0))
        blocked = ((excluded >= 0) & (present[at] == keys)).any(axis=1) if len(present) else False
        kept = hits.take(np.flatnonzero(~blocked)) if len(present) else hits
        kept.interest = self._interest_of[kept.interest]
        return kept

    def _simple_text(self, found: Occurrences, reasons: list[tuple[str, ...]]) -> Hits:
        """One-word (or one-phrase) interests: score = the term's strength in the paper."""
        postings = self.simple_text
        useful = np.flatnonzero(postings.indptr[found.term + 1] > postings.indptr[found.term])
        # One reason per (term, field), numbered over the occurrences before they are fanned
        # out to the interests (far fewer rows to sort).
        keys = found.term[useful] * 2 + (~found.in_title[useful])
        unique, inverse = np.unique(keys, return_inverse=True)
        base = len(reasons)
        for key in unique.tolist():
            term = self.index.terms[key // 2]
            assert isinstance(term, TextTerm)
            reasons.append((f"“{term.label}” in {'abstract' if key % 2 else 'title'}",))
        occurrence, interests = postings.expand(found.term[useful])
        rows = useful[occurrence]
        why = inverse.reshape(-1).astype(I64)[occurrence] + base
        return Hits(interests, found.paper[rows], found.strength[rows], why)

    def _simple_filters(
        self, docs: Sequence[DocHits], config: MatchConfig, reasons: list[tuple[str, ...]]
    ) -> Hits:
        """A category or an author alone: every paper in it, at a fixed score."""
        terms, papers, scores, why = [], [], [], []
        seen: dict[str, int] = {}
        for paper, doc in enumerate(docs):
            listed = [
                (t, f"category {c}", config.category_score) for t, c in doc.categories.items()
            ]
            listed += [(t, f"author {a}", 1.0) for t, a in doc.authors.items()]
            for term_id, reason, score in listed:
                terms.append(term_id)
                papers.append(paper)
                scores.append(score)
                if reason not in seen:
                    seen[reason] = len(reasons)
                    reasons.append((reason,))
                why.append(seen[reason])
        if not terms:
            return Hits()
        rows, interests = self.simple_filters.expand(np.array(terms, I64))
        return Hits(
            interests,
            np.array(papers, I64)[rows],
            np.array(scores, np.float64)[rows],
            np.array(why, I64)[rows],
        )

    def _simple_descriptions(
        self, described: DescriptionScores, reasons: list[tuple[str, ...]]
    ) -> Hits:
        postings = self.simple_descriptions
        if not len(described.term):
            return Hits()
        rows, interests = postings.expand(described.term)
        base = len(reasons)
        reasons.extend((r,) for r in described.reasons)
        return Hits(
            interests, described.paper[rows], described.score[rows], described.reason[rows] + base
        )

    def _complex(
        self,
        docs: Sequence[DocHits],
        stats: CorpusStats,
        found: Occurrences,
        descriptions: DescriptionScores,
        config: MatchConfig,
        reasons: list[tuple[str, ...]],
        present: np.ndarray,
    ) -> Hits:
        """The other clauses: candidates are the clauses anchored on a term each paper has,
        kept (with array operations) when every required term is there and no excluded
        one; only those are scored, one by one."""
        if not self.complex:
            return Hits()
        terms = len(self._ids)
        rows, clause = self.anchors(stats).expand(present % terms)
        paper = present[rows] // terms
        missing = _absent(present, paper, clause, self._required, terms)
        blocked = ~_absent(present, paper, clause, self._forbidden, terms, any_of=True)
        met = np.flatnonzero(~missing & ~blocked)
        if not len(met):
            return Hits()
        context = Context(self.index.terms, [stats.idf(t) for t in range(terms)], config)
        strengths = found.by_paper(len(docs))
        papers, numbers = paper[met].tolist(), clause[met].tolist()
        scores: list[float] = []
        why: list[int] = []
        for number, at in zip(numbers, papers, strict=True):
            described = descriptions.for_paper(at)
            score, said = score_clause(
                self.complex[number], docs[at], strengths[at], described, context
            )
            scores.append(score)
            why.append(len(reasons))
            reasons.append(said)
        return Hits(
            self._complex_interest[clause[met]],
            paper[met],
            np.array(scores, np.float64),
            np.array(why, I64),
        )


def _absent(
    present: np.ndarray,
    paper: np.ndarray,
    clause: np.ndarray,
    terms_of: Postings,
    terms: int,
    any_of: bool = False,
) -> np.ndarray:
    """Per (paper, clause) candidate: is any of the clause's terms missing from the paper (or,
    with ``any_of``, are all of them)? ``present``: the sorted paper x terms + term keys."""
    rows, term = terms_of.expand(clause)
    keys = paper[rows] * terms + term
    at = np.minimum(np.searchsorted(present, keys), max(len(present) - 1, 0))
    found = present[at] == keys if len(present) else np.zeros(len(keys), dtype=bool)
    hits = np.bincount(rows[found], minlength=len(clause))
    if any_of:
        return np.asarray(hits == 0, dtype=bool)
    return np.asarray(hits < np.diff(terms_of.indptr)[clause], dtype=bool)


def _present(
    docs: Sequence[DocHits], found: Occurrences, described: DescriptionScores, terms: int
) -> np.ndarray:
    """Sorted keys paper x terms + term of every term present in every paper."""
    filters = [
        number * terms + term_id
        for number, doc in enumerate(docs)
        for term_id in (*doc.categories, *doc.authors)
    ]
    keys = [found.paper * terms + found.term, described.paper * terms + described.term]
    every = np.sort(np.concatenate([*keys, np.array(filters, dtype=I64)]))
    # Not np.unique: without return_inverse, numpy 2.4 takes a hash path that is many times
    # slower than a sort on millions of integers.
    return every[np.r_[True, every[1:] != every[:-1]]] if len(every) else every


def _kind(term: Term) -> int:
    if isinstance(term, TextTerm):
        return _TEXT
    return _DESCRIPTION if isinstance(term, DescriptionTerm) else _FILTER


def _postings(terms: np.ndarray, chosen: np.ndarray, keys: int) -> Postings:
    """term -> the simple clauses (numbered in order) of one kind that require it."""
    clauses = np.flatnonzero(chosen)
    by_term = terms[clauses]
    order = np.argsort(by_term, kind="stable")
    indptr = np.zeros(keys + 1, dtype=I64)
    indptr[1:] = np.cumsum(np.bincount(by_term, minlength=keys))
    return Postings(indptr, clauses[order].astype(I64))


def _lists(rows: Sequence[tuple[int, ...]]) -> Postings:
    """row -> its values, as CSR arrays."""
    counts = np.fromiter((len(r) for r in rows), I64, len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=I64)
    indptr[1:] = np.cumsum(counts)
    return Postings(indptr, np.fromiter((v for r in rows for v in r), I64, int(indptr[-1])))
