"""Descriptions ("efficient long-sequence models like S4 and Mamba applied to vision"): scored by
meaning with sentence embeddings when the semantic extra is installed, by the share of their
informative words a paper covers otherwise.

With embeddings, one matrix product scores every distinct description against a batch of
papers; each description was embedded once, each paper once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.match.compile import DescriptionTerm
from service.match.index import DocHits
from service.match.score import CorpusStats, MatchConfig, strength

Scored = dict[int, tuple[float, str]]  # description term id -> (normalised score, reason)
TOP_SIMILARITY = 0.65  # a description and a paper about exactly that


@dataclass(slots=True)
class DescriptionScores:
    per_paper: list[Scored] = field(default_factory=list)

    def for_paper(self, paper: int) -> Scored:
        return self.per_paper[paper] if paper < len(self.per_paper) else {}


def score_descriptions(
    descriptions: Sequence[tuple[int, DescriptionTerm, tuple[int, ...]]],
    docs: Sequence[DocHits],
    stats: CorpusStats,
    config: MatchConfig,
    paper_vectors: np.ndarray | None = None,
    text_vectors: Mapping[str, np.ndarray] | None = None,
) -> DescriptionScores:
    """Which descriptions each paper satisfies, and how well.

    ``paper_vectors`` has a row per doc (all zeros where a paper has no vector: that paper
    falls back to lexical scoring); ``text_vectors`` maps description text to its vector.
    """
    result = DescriptionScores([{} for _ in docs])
    if not descriptions:
        return result
    semantic = paper_vectors is not None and text_vectors is not None
    if semantic:
        assert paper_vectors is not None and text_vectors is not None
        _semantic(descriptions, paper_vectors, text_vectors, config, result)
    for paper, doc in enumerate(docs):
        if semantic and paper_vectors is not None and paper_vectors[paper].any():
            continue
        for term_id, term, words in descriptions:
            scored = _lexical(term, words, doc, stats, config)
            if scored is not None:
                result.per_paper[paper][term_id] = scored
    return result


def _semantic(
    descriptions: Sequence[tuple[int, DescriptionTerm, tuple[int, ...]]],
    paper_vectors: np.ndarray,
    text_vectors: Mapping[str, np.ndarray],
    config: MatchConfig,
    result: DescriptionScores,
) -> None:
    ids = np.array([term_id for term_id, _, _ in descriptions])
    matrix = np.stack([text_vectors[term.text] for _, term, _ in descriptions])
    floor = config.semantic_threshold
    span = max(TOP_SIMILARITY - floor, 1e-6)
    for start in range(0, len(paper_vectors), 512):
        block = matrix @ paper_vectors[start : start + 512].T  # descriptions x papers
        rows, cols = np.nonzero(block >= floor)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            similarity = float(block[row, col])
            score = config.threshold + (similarity - floor) / span * (1.0 - config.threshold)
            reason = f"similar to your description, {similarity:.2f}"
            result.per_paper[start + col][int(ids[row])] = (score, reason)


def _lexical(
    term: DescriptionTerm,
    words: tuple[int, ...],
    doc: DocHits,
    stats: CorpusStats,
    config: MatchConfig,
) -> tuple[float, str] | None:
    """The share of the description's idf weight the paper covers, saturating per word."""
    if not words or not any(w in doc.hits for w in words):
        return None
    covered = total = 0.0
    found: list[tuple[float, str]] = []
    for term_id, word in zip(words, term.words, strict=True):
        idf = stats.idf(term_id)
        total += idf
        if term_id in doc.hits:
            weight = idf * min(strength(doc.hits[term_id], doc, stats, config), 1.0)
            covered += weight
            found.append((weight, word.label))
    share = covered / total if total else 0.0
    if share < config.lexical_threshold:
        return None
    span = max(1.0 - config.lexical_threshold, 1e-6)
    score = config.threshold + (share - config.lexical_threshold) / span * (1.0 - config.threshold)
    shown = ", ".join(f"“{label}”" for _, label in sorted(found, reverse=True)[:3])
    return score, f"your description: {shown}"
