"""Precision, recall and nDCG@10 of judged interests over the seed papers.

    python -m tests.match.evaluate [--split dev|test|all] [--semantic auto|on|off]
        [--vectors stored|none] [--json] [-v] [--baseline]

Each interest is ranked by ``service.match.preview.rank_papers``, the function behind
``paperpost match test`` and the web preview, over the 72 papers of
``../shared/data/seed_papers.json`` as they would be stored, with the sentence encoder only
where the preview loads it (descriptions). ``--vectors stored`` (the default with the semantic
extra): the papers carry the vectors the match job stores once a deployment matches
descriptions, which keyword phrases use for related papers; ``--vectors none``: papers stored
without vectors, keywords matched by their words alone. A paper below the threshold is not
returned at all, so recall counts what a subscriber would actually get. ``-v`` lists every
interest, worst first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from service.match.preview import PreviewHit, describes, rank_papers
from service.match.score import MatchConfig
from service.match.semantic import Encoder, load_encoder, pack, paper_text
from service.match.types import PaperDoc

HERE = Path(__file__).resolve().parent
EVAL_SET = HERE / "eval_set.json"
SEED_PAPERS = HERE.parents[1].parent / "shared" / "data" / "seed_papers.json"
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Outcome:
    interest: str
    kind: str
    split: str
    precision: float
    recall: float
    ndcg: float
    returned: int
    traps: list[int]  # must_not papers that were returned


class Remembering:
    """An encoder that embeds each text once per run: the previews of ``--vectors none``
    embed the same papers again for every description."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.known: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.encoder.encode(missing), strict=True))
        return np.stack([self.known[t] for t in texts]) if texts else self.encoder.encode([])


def seed_papers(encoder: Encoder | None = None, path: Path = SEED_PAPERS) -> list[PaperDoc]:
    """The papers as stored: with their vector when an encoder is given (embedded once, as
    the match job does), without one otherwise."""
    papers = json.loads(path.read_text(encoding="utf-8"))["papers"]
    texts = [paper_text(p["title"], p["summary"]) for p in papers]
    vectors = encoder.encode(texts) if encoder is not None else [None] * len(papers)
    return [
        PaperDoc(
            n,
            f"seed/{n:07d}",
            p["title"],
            p["summary"],
            ingested_at=NOW,
            embedding=pack(v, t) if v is not None else None,
        )
        for n, (p, t, v) in enumerate(zip(papers, texts, vectors, strict=True))
    ]


def ndcg(ranked: Sequence[int], grades: dict[int, int], k: int = 10) -> float:
    gain = sum((2 ** grades.get(p, 0) - 1) / math.log2(i + 2) for i, p in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return gain / best if best else 1.0


def evaluate(
    items: Sequence[dict[str, object]],
    papers: Sequence[PaperDoc],
    encoder: Encoder | None,
    config: MatchConfig | None = None,
) -> list[Outcome]:
    outcomes = []
    for item in items:
        interest = str(item["interest"])
        hits: list[PreviewHit] = rank_papers(
            papers,
            [interest],
            now=NOW,
            config=config or MatchConfig(),
            encoder=encoder if describes([interest]) else None,  # as the preview loads it
        )
        ranked = [int(h.arxiv_id.split("/")[1]) for h in hits]
        grades = {int(k): int(v) for k, v in dict(item["relevant"]).items()}  # type: ignore[call-overload]
        found = [p for p in ranked if grades.get(p, 0) > 0]
        outcomes.append(
            Outcome(
                str(item["interest"]),
                str(item["kind"]),
                str(item["split"]),
                len(found) / len(ranked) if ranked else 0.0,
                len(found) / len(grades),
                ndcg(ranked, grades),
                len(ranked),
                [p for p in ranked if p in set(item.get("must_not", []))],  # type: ignore[call-overload]
            )
        )
    return outcomes


def substring_baseline(
    items: Sequence[dict[str, object]], papers: Sequence[PaperDoc]
) -> list[Outcome]:
    """The naive baseline: every word of the interest as a case-insensitive substring of the
    title or abstract, ranked by the number of occurrences (title counted twice)."""
    outcomes = []
    for item in items:
        words = [
            w.strip('"').lower() for w in str(item["interest"]).split() if not w.startswith("-")
        ]
        scored = []
        for paper in papers:
            title, text = paper.title.lower(), (paper.title + " " + paper.summary).lower()
            if all(w in text for w in words):
                scored.append((-sum(text.count(w) + title.count(w) for w in words), paper.id))
        ranked = [pid for _, pid in sorted(scored)]
        grades = {int(k): int(v) for k, v in dict(item["relevant"]).items()}  # type: ignore[call-overload]
        found = [p for p in ranked if grades.get(p, 0) > 0]
        outcomes.append(
            Outcome(
                str(item["interest"]),
                str(item["kind"]),
                str(item["split"]),
                len(found) / len(ranked) if ranked else 0.0,
                len(found) / len(grades),
                ndcg(ranked, grades),
                len(ranked),
                [p for p in ranked if p in set(item.get("must_not", []))],  # type: ignore[call-overload]
            )
        )
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    table = {}
    for kind in ("keyword", "description"):
        rows = [o for o in outcomes if o.kind == kind]
        if rows:
            table[kind] = {
                "interests": len(rows),
                "precision": round(statistics.fmean(o.precision for o in rows), 3),
                "recall": round(statistics.fmean(o.recall for o in rows), 3),
                "ndcg@10": round(statistics.fmean(o.ndcg for o in rows), 3),
                "traps": sum(len(o.traps) for o in rows),
            }
            for split in ("dev", "test"):
                part = [o.ndcg for o in rows if o.split == split]
                if part:
                    table[kind][f"{split} ndcg@10"] = round(statistics.fmean(part), 3)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--semantic", choices=("auto", "on", "off"), default="auto")
    parser.add_argument(
        "--vectors", choices=("stored", "none"), default="stored", help="papers' stored vectors"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="also plain substring matching")
    args = parser.parse_args(argv)
    items = json.loads(EVAL_SET.read_text(encoding="utf-8"))["interests"]
    items = [i for i in items if args.split == "all" or i["split"] == args.split]
    loaded = load_encoder(args.semantic)
    encoder = Remembering(loaded) if loaded is not None else None
    papers = seed_papers(encoder if args.vectors == "stored" else None)
    outcomes = evaluate(items, papers, encoder)
    table = summary(outcomes)
    if args.json:
        print(
            json.dumps(
                {
                    "semantic": encoder is not None,
                    "summary": table,
                    "interests": [asdict(o) for o in outcomes],
                },
                indent=1,
            )
        )
        return 0
    if args.verbose:
        for o in sorted(outcomes, key=lambda o: o.ndcg):
            print(
                f"{o.ndcg:5.2f} P={o.precision:4.2f} R={o.recall:4.2f} n={o.returned:2} "
                f"{o.kind[:4]} {o.split:4} {o.interest}{'  TRAPS ' + str(o.traps) if o.traps else ''}"
            )
    if args.baseline:
        for kind, row in summary(substring_baseline(items, seed_papers())).items():
            print(f"substring baseline {kind:12} " + "  ".join(f"{k} {v}" for k, v in row.items()))
    print(
        f"semantic: {'on (' + encoder.name + ')' if encoder else 'off (lexical fallback)'}; "
        f"papers stored {'with' if encoder and args.vectors == 'stored' else 'without'} vectors"
    )
    for kind, row in table.items():
        print(f"{kind:12} " + "  ".join(f"{k} {v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
