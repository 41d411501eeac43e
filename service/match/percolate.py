"""The percolator: distinct interests indexed once, each paper scanned once against them.

Each interest is an OR of all-of clauses. A clause is anchored on its rarest term in the
current papers, so a paper only visits the clauses anchored on a term it contains; the other
terms of the clause are then checked by set membership. Nothing loops over subscribers: the
hits are per distinct interest and are fanned out to subscribers afterwards (``combine``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from service.match.acronyms import Acronyms, by_long_form, expand
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
from service.match.index import DocHits, TermIndex
from service.match.score import CorpusStats, MatchConfig, proximity, strength
from service.match.types import PaperDoc

MAX_REASONS = 4


@dataclass(frozen=True, slots=True)
class InterestHit:
    interest: int  # index into the interests the percolator was built from
    paper: int  # index into the papers given to ``match``
    score: float  # normalised to the interest's best case, before weight and boosts
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClauseIds:
    """A clause with its terms as ids, sorted by role."""

    interest: int
    terms: tuple[int, ...]
    excluded: tuple[int, ...]
    text: tuple[int, ...]
    descriptions: tuple[int, ...]
    filters: tuple[int, ...]  # categories and authors: required, but not scored


class Percolator:
    def __init__(
        self, interests: Sequence[tuple[CompiledInterest, bool]], acronyms: Acronyms | None = None
    ) -> None:
        """``interests``: (compiled, exclude) pairs; an excluding interest's hits mean "not
        this paper" for its subscribers (exclusion-only interests and negated rows)."""
        self._ids: dict[Term, int] = {}
        self._acronyms = acronyms or {}
        self._long_forms = by_long_form(self._acronyms)
        self._expanded: dict[TextTerm, TextTerm] = {}
        self.excluding = [exclude or c.exclusion_only for c, exclude in interests]
        self.clauses: list[ClauseIds] = []
        for number, (compiled, _) in enumerate(interests):
            for clause in clauses_of(compiled):
                self.clauses.append(self._clause(number, clause))
        self.index = TermIndex(list(self._ids))
        self.descriptions = [
            (term_id, term, tuple(self._ids[w] for w in term.words))
            for term_id, term in self.index.description_terms()
        ]

    def _term(self, term: Term) -> int:
        if isinstance(term, DescriptionTerm):
            for word in term.words:
                self._ids.setdefault(word, len(self._ids))
        elif isinstance(term, TextTerm):
            term = self._expand(term)
        return self._ids.setdefault(term, len(self._ids))

    def _expand(self, term: TextTerm) -> TextTerm:
        found = self._expanded.get(term)
        if found is None:
            found = self._expanded[term] = expand(term, self._acronyms, self._long_forms)
        return found

    def _clause(self, number: int, clause: Clause) -> ClauseIds:
        terms = tuple(self._term(t) for t in clause.terms)
        kinds = {self._term(t): t for t in clause.terms}
        return ClauseIds(
            number,
            terms,
            tuple(self._term(t) for t in clause.excluded),
            tuple(i for i in terms if isinstance(kinds[i], TextTerm)),
            tuple(i for i in terms if isinstance(kinds[i], DescriptionTerm)),
            tuple(i for i in terms if isinstance(kinds[i], CategoryTerm | AuthorTerm)),
        )

    def scan(self, papers: Sequence[PaperDoc]) -> list[DocHits]:
        return [self.index.scan(paper) for paper in papers]

    def anchors(self, stats: CorpusStats) -> dict[int, list[int]]:
        """Clause numbers by the term each is anchored on: its rarest term, or its description."""
        by_term: dict[int, list[int]] = defaultdict(list)
        for number, clause in enumerate(self.clauses):
            if not clause.terms:
                continue
            lexical = [t for t in clause.terms if t not in clause.descriptions]
            anchor = min(lexical, key=lambda t: stats.df.get(t, 0)) if lexical else clause.terms[0]
            by_term[anchor].append(number)
        return by_term

    def match(
        self,
        docs: Sequence[DocHits],
        stats: CorpusStats,
        descriptions: DescriptionScores,
        config: MatchConfig,
    ) -> list[InterestHit]:
        """Every (interest, paper) pair that passes the threshold, with its score and reasons."""
        anchors = self.anchors(stats)
        found: list[InterestHit] = []
        for paper, doc in enumerate(docs):
            described = descriptions.for_paper(paper)
            present = set(doc.hits) | set(doc.categories) | set(doc.authors) | set(described)
            candidates = {c for term in present for c in anchors.get(term, ())}
            best: dict[int, list[Scored]] = defaultdict(list)
            for number in candidates:
                clause = self.clauses[number]
                if not present.issuperset(clause.terms) or not present.isdisjoint(clause.excluded):
                    continue
                scored = score_clause(clause, self.index.terms, doc, stats, described, config)
                best[clause.interest].append(scored)
            for interest, options in best.items():
                score, reasons = best_of(options)
                if self.excluding[interest] or score >= config.threshold:
                    found.append(InterestHit(interest, paper, score, reasons))
        return found


Scored = tuple[float, tuple[str, ...]]


def best_of(options: Sequence[Scored]) -> Scored:
    """An interest's score: its best clause, plus a little for each other clause it meets."""
    ranked = sorted(options, key=lambda s: -s[0])
    return ranked[0][0] + 0.1 * sum(s for s, _ in ranked[1:]), ranked[0][1]


def score_clause(
    clause: ClauseIds,
    terms: Sequence[Term],
    doc: DocHits,
    stats: CorpusStats,
    described: dict[int, tuple[float, str]],
    config: MatchConfig,
) -> Scored:
    """A met clause's normalised score and reasons: its words and phrases (rarity-weighted,
    with proximity) and descriptions count; categories and authors only filter."""
    parts: list[float] = []
    reasons: list[str] = []
    if clause.text:
        parts.append(_text_score(clause.text, terms, doc, stats, config, reasons))
    for term_id in clause.descriptions:
        score, reason = described[term_id]
        parts.append(score)
        reasons.append(reason)
    for term_id in clause.filters:
        if term_id in doc.categories:
            reasons.append(f"category {doc.categories[term_id]}")
        else:
            reasons.append(f"author {doc.authors[term_id]}")
    if parts:
        total = sum(parts) / len(parts)
    else:
        total = 1.0 if any(t in doc.authors for t in clause.filters) else config.category_score
    return total, tuple(reasons[:MAX_REASONS])


def _text_score(
    term_ids: tuple[int, ...],
    terms: Sequence[Term],
    doc: DocHits,
    stats: CorpusStats,
    config: MatchConfig,
    reasons: list[str],
) -> float:
    weighted = weights = 0.0
    spans = []
    labels = []
    for term_id in term_ids:
        entry = doc.hits[term_id]
        idf = stats.idf(term_id)
        weighted += idf * strength(entry, doc, stats, config)
        weights += idf
        term = terms[term_id]
        assert isinstance(term, TextTerm)
        spans.append((entry[0], entry[1], len(term.variants[0].stems)))
        labels.append((term.label, "title" if entry[0] else "abstract"))
    near = proximity(spans)
    if len(labels) > 1 and near >= 0.95:  # together: one reason, "“diffusion video” in title"
        phrase = " ".join(label for label, _ in labels)
        reasons.append(f"“{phrase}” in {'title' if near == 1.0 else 'abstract'}")
    else:
        reasons.extend(f"“{label}” in {where}" for label, where in labels)
    return (weighted / weights if weights else 0.0) * near


def clauses_of(compiled: CompiledInterest) -> tuple[Clause, ...]:
    """An exclusion-only interest ("-survey -review") hits a paper with any excluded term."""
    if not compiled.exclusion_only:
        return compiled.clauses
    return tuple(Clause((t,), ()) for c in compiled.clauses for t in c.excluded)
