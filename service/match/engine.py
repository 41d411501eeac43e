"""Match many interests against a stream of papers by indexing the interests (percolator).

An interest is a space-separated list of keywords and "quoted phrases", all of which must occur
in the title or abstract, as whole words after stemming.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.match.text import tokens
from service.match.types import InterestSpec, MatchResult, PaperDoc

_TERM = re.compile(r'"([^"]+)"|(\S+)')


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    stems: tuple[str, ...]


def parse_terms(value: str) -> list[Term]:
    terms = []
    for phrase, word in _TERM.findall(value):
        text = phrase or word
        stems = tuple(tokens(text))
        if stems:
            terms.append(Term(text, stems))
    return terms


class InterestIndex:
    """Interests keyed by the first stem of their rarest-looking term."""

    def __init__(self, interests: Iterable[InterestSpec]) -> None:
        self._by_stem: dict[str, list[tuple[InterestSpec, list[Term]]]] = defaultdict(list)
        for interest in interests:
            terms = parse_terms(interest.value)
            if terms:
                anchor = max(terms, key=lambda t: len(t.stems[0])).stems[0]
                self._by_stem[anchor].append((interest, terms))

    def candidates(self, stems: set[str]) -> Iterable[tuple[InterestSpec, list[Term]]]:
        for stem in stems:
            yield from self._by_stem.get(stem, ())


def match_papers(papers: Sequence[PaperDoc], index: InterestIndex) -> list[MatchResult]:
    best: dict[tuple[int, int], MatchResult] = {}
    for paper in papers:
        title, body = tokens(paper.title), tokens(paper.summary)
        for interest, terms in index.candidates(set(title) | set(body)):
            result = _score(paper, interest, terms, title, body)
            if result is None:
                continue
            key = (result.subscriber_id, result.paper_id)
            prior = best.get(key)
            if prior is None or prior.score < result.score:
                best[key] = result
    return list(best.values())


def _score(
    paper: PaperDoc, interest: InterestSpec, terms: list[Term], title: list[str], body: list[str]
) -> MatchResult | None:
    score, reasons = 0.0, []
    for term in terms:
        if _contains(title, term.stems):
            score += 2.0
            reasons.append(f"“{term.text}” in title")
        elif _contains(body, term.stems):
            score += 1.0
            reasons.append(f"“{term.text}” in abstract")
        else:
            return None
    return MatchResult(interest.subscriber_id, paper.id, score * interest.weight, tuple(reasons))


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    if len(needle) == 1:
        return needle[0] in haystack
    width = len(needle)
    return any(tuple(haystack[i : i + width]) == needle for i in range(len(haystack) - width + 1))
