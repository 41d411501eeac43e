"""Scoring one met clause of an interest against one paper (the percolator's slow path, and
the naive matcher's only path): words and phrases weighted by rarity with proximity,
descriptions by their own score; categories and authors only filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.match.compile import Clause, CompiledInterest, Term, TextTerm
from service.match.index import DocHits
from service.match.score import MatchConfig, proximity

MAX_REASONS = 4
OTHER_CLAUSE_BONUS = 0.1  # "mamba OR s4" met twice scores a little above met once

Scored = tuple[float, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class ClauseIds:
    """A clause with its terms as ids, sorted by role."""

    interest: int
    terms: tuple[int, ...]
    excluded: tuple[int, ...]
    text: tuple[int, ...]
    descriptions: tuple[int, ...]
    filters: tuple[int, ...]  # categories and authors: required, but not scored


@dataclass(frozen=True, slots=True)
class Context:
    """What scoring a clause needs besides the paper: the terms, their idf, the config."""

    terms: Sequence[Term]
    idf: Sequence[float]
    config: MatchConfig


def clauses_of(compiled: CompiledInterest) -> tuple[Clause, ...]:
    """An exclusion-only interest ("-survey -review") hits a paper with any excluded term."""
    if not compiled.exclusion_only:
        return compiled.clauses
    return tuple(Clause((t,), ()) for c in compiled.clauses for t in c.excluded)


def best_of(options: Sequence[Scored]) -> Scored:
    """An interest's score: its best clause, plus a little for each other clause it meets."""
    ranked = sorted(options, key=lambda s: -s[0])
    return ranked[0][0] + OTHER_CLAUSE_BONUS * sum(s for s, _ in ranked[1:]), ranked[0][1]


def score_clause(
    clause: ClauseIds,
    doc: DocHits,
    strengths: Mapping[int, float],
    described: Mapping[int, tuple[float, str]],
    context: Context,
) -> Scored:
    """A met clause's normalised score and reasons. ``strengths``: score.strength of each
    term found in the paper."""
    parts: list[float] = []
    reasons: list[str] = []
    if clause.text:
        parts.append(_text_score(clause.text, doc, strengths, context, reasons))
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
        author = any(t in doc.authors for t in clause.filters)
        total = 1.0 if author else context.config.category_score
    return total, tuple(reasons[:MAX_REASONS])


def _text_score(
    term_ids: tuple[int, ...],
    doc: DocHits,
    strengths: Mapping[int, float],
    context: Context,
    reasons: list[str],
) -> float:
    weighted = weights = 0.0
    spans = []
    labels = []
    for term_id in term_ids:
        idf = context.idf[term_id]
        weighted += idf * strengths[term_id]
        weights += idf
        term = context.terms[term_id]
        assert isinstance(term, TextTerm)
        title, abstract = doc.hits[term_id]
        spans.append((title, abstract, len(term.variants[0].stems)))
        labels.append((term.label, "title" if title else "abstract"))
    near = proximity(spans)
    if len(labels) > 1 and near >= 0.95:  # together: one reason, "“diffusion video” in title"
        phrase = " ".join(label for label, _ in labels)
        reasons.append(f"“{phrase}” in {'title' if near == 1.0 else 'abstract'}")
    else:
        reasons.extend(f"“{label}” in {where}" for label, where in labels)
    return (weighted / weights if weights else 0.0) * near
