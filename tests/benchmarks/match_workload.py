"""The match benchmark's workload: seeded, built from the 72 real seed papers.

- Vocabulary: the words (4+ letters) and the two-word phrases of the seed titles and
  abstracts (a few thousand ML terms), plus the acronyms the papers define; drawn with a Zipf
  law over their frequency, so "learning" is common and "hashing" rare, as in real interests.
- Papers: each a real title and sentences from three real abstracts, with 1-3 arXiv
  categories, 3-8 authors from a pool, upvotes and a publication time in the last two days.
- Subscribers: 1-5 interests each: keywords, all-of lists, quoted phrases, OR, exclusions,
  categories and whole archives, authors (some with initials), exclusion-only interests and
  about 10% descriptions from a pool of distinct descriptions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from service.match.query import InterestSyntaxError, parse_interest
from service.match.text import STOPWORDS, raw_words
from service.match.types import PaperDoc

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "seed_papers.json"
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
CATEGORIES = [
    "cs.LG",
    "cs.CV",
    "cs.CL",
    "cs.AI",
    "stat.ML",
    "cs.IR",
    "cs.RO",
    "eess.IV",
    "cs.NE",
    "cs.CR",
    "q-bio.NC",
    "astro-ph.GA",
]
CATEGORY_WEIGHTS = [30, 28, 14, 12, 6, 3, 2, 2, 1, 1, 0.5, 0.5]
_GIVEN = "Ada Alan Grace Kaiming Yann Fei Andrew Ilya Sara Ming Wei Jun Li Anna Maria Jose Luca Hugo Yuki Chen Olga Ravi Priya Omar Lena Noah Emma Ivan Zoe Tom"
GIVEN = _GIVEN.split()
_FAMILY = "He Lecun Li Ng Sutskever Chen Wang Zhang Liu Smith Garcia Rossi Dubois Tanaka Kim Park Singh Khan Novak Müller Schmidt Silva Costa Lopez Wu Yang Zhao Huang Kumar Ivanova"
FAMILY = _FAMILY.split()
TEMPLATES = (
    "{a} methods for {b} applied to {c}",
    "how {a} improves {b} in {c} settings",
    "new approaches to {a} and {b} for {c}",
    "scaling {a} with {b} and efficient {c}",
    "understanding {a} through {b} and {c}",
)


@dataclass
class Workload:
    papers: list[PaperDoc]
    interests: list[tuple[int, str]]  # (subscriber id, interest text)
    descriptions: list[str]
    params: dict[str, object] = field(default_factory=dict)


def seed_texts() -> list[dict[str, str]]:
    return list(json.loads(SEED.read_text(encoding="utf-8"))["papers"])


def vocabulary(seed: list[dict[str, str]], rng: random.Random) -> tuple[list[str], list[float]]:
    """Topical terms (used by at most 10% of the papers: nobody follows "learning") and
    cumulative Zipf weights over a seeded popularity order."""
    counts: Counter[str] = Counter()
    for paper in seed:
        words = [w.lower() for w in raw_words(paper["title"] + ". " + paper["summary"])]
        ok = [w.isalpha() and len(w) > 2 and w not in STOPWORDS for w in words]
        terms = {w for w, good in zip(words, ok, strict=True) if good and len(w) >= 4}
        terms |= {
            f"{a} {b}" for a, b, x, y in zip(words, words[1:], ok, ok[1:], strict=False) if x and y
        }
        terms |= set(re.findall(r"\(([A-Z][A-Za-z]*[A-Z][A-Za-z]*)s?\)", paper["summary"]))
        counts.update(terms)
    topical = sorted(t for t, n in counts.items() if n <= len(seed) // 10 and _valid(t))
    rng.shuffle(topical)
    return topical, list(itertools.accumulate(1.0 / (rank + 10) for rank in range(len(topical))))


def _valid(term: str) -> bool:
    try:
        parse_interest(term)
    except InterestSyntaxError:
        return False  # "IT": a stopword written as an acronym
    return True


def build(
    subscribers: int, papers: int, distinct_descriptions: int, seed: int, other: float = 0.8
) -> Workload:
    rng = random.Random(seed)
    texts = seed_texts()
    terms, cumulative = vocabulary(texts, rng)
    words = [t for t in terms if " " not in t]
    pick = lambda: rng.choices(terms, cum_weights=cumulative)[0]  # noqa: E731
    descriptions = sorted({_description(rng, words) for _ in range(distinct_descriptions * 2)})
    descriptions = descriptions[:distinct_descriptions]
    people = [f"{g} {f}" for g in GIVEN for f in FAMILY]
    docs = [_paper(rng, texts, people, n, other) for n in range(papers)]
    interests = []
    for sub in range(1, subscribers + 1):
        for _ in range(rng.choices((1, 2, 3, 4, 5), (30, 30, 20, 12, 8))[0]):
            interests.append((sub, _interest(rng, pick, words, people, descriptions)))
    params = {
        "subscribers": subscribers,
        "papers": papers,
        "interests": len(interests),
        "distinct_interests": len({t for _, t in interests}),
        "vocabulary": len(terms),
        "distinct_descriptions": len(descriptions),
        "seed": seed,
        "other_topic_words": other,
    }
    return Workload(docs, interests, descriptions, params)


def next_batch(work: Workload, count: int) -> list[PaperDoc]:
    """The papers of the next run: the same generator, ids after the workload's papers."""
    rng = random.Random(int(work.params["seed"]) * 1_000_003)  # type: ignore[call-overload]
    people = [f"{g} {f}" for g in GIVEN for f in FAMILY]
    other = float(work.params["other_topic_words"])  # type: ignore[arg-type]
    texts, start = seed_texts(), len(work.papers)
    return [_paper(rng, texts, people, start + n, other) for n in range(count)]


_CONTENT = re.compile(r"\b[A-Za-z][a-z]{3,}\b")


def _dilute(rng: random.Random, text: str, other: float) -> str:
    """Replace that share of the content words with words of other topics: a day of arXiv
    spans a far larger vocabulary than 72 papers, so each topical term is rarer."""
    return _CONTENT.sub(
        lambda m: (
            _other_word(rng)
            if rng.random() < other and m.group(0).lower() not in STOPWORDS
            else m.group(0)
        ),
        text,
    )


def _other_word(rng: random.Random) -> str:
    return "".join(
        rng.choice("bcdfglmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4))
    )


def _description(rng: random.Random, words: list[str]) -> str:
    a, b, c = rng.sample(words[:1500], 3)
    return rng.choice(TEMPLATES).format(a=a, b=b, c=c)


def _paper(
    rng: random.Random, texts: list[dict[str, str]], people: list[str], n: int, other: float
) -> PaperDoc:
    main, *others = rng.sample(texts, 3)
    sentences = [s for t in (main, *others) for s in re.split(r"(?<=[.!?])\s+", t["summary"])]
    abstract = _dilute(rng, " ".join(rng.sample(sentences, min(len(sentences), 8))), other)
    return PaperDoc(
        id=n + 1,
        arxiv_id=f"2611.{n + 1:05d}",
        title=_dilute(rng, main["title"], other),
        summary=abstract,
        authors=tuple(rng.sample(people, rng.randint(3, 8))),
        categories=tuple(
            dict.fromkeys(rng.choices(CATEGORIES, CATEGORY_WEIGHTS, k=rng.randint(1, 3)))
        ),
        upvotes=int(rng.expovariate(1 / 8)),
        published_at=NOW - dt.timedelta(hours=rng.uniform(0, 48)),
        ingested_at=NOW,
    )


def _interest(
    rng: random.Random, pick: object, words: list[str], people: list[str], descriptions: list[str]
) -> str:
    term = pick  # a Zipf draw over the vocabulary
    kind = rng.choices(
        (
            "word",
            "all",
            "phrase",
            "or",
            "exclude",
            "category",
            "archive",
            "author",
            "initials",
            "only",
            "description",
        ),
        (50, 10, 6, 5, 5, 6, 2, 2, 2, 2, 10),
    )[0]
    if kind == "word":
        return _plain(term())  # type: ignore[operator]
    if kind == "all":
        return f"{_plain(term())} {rng.choice(words[:400])}"  # type: ignore[operator]
    if kind == "phrase":
        return f'"{rng.choice([t for t in [term() for _ in range(5)] if " " in t] or ["neural network"])}"'  # type: ignore[operator]
    if kind == "or":
        return f"{_plain(term())} OR {_plain(term())}"  # type: ignore[operator]
    if kind == "exclude":
        return f"{_plain(term())} -{rng.choice(('survey', 'benchmark', 'theory', 'medical'))}"  # type: ignore[operator]
    if kind == "category":
        return f"cat:{rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]}"
    if kind == "archive":
        return rng.choice(("cat:cs", "cat:stat", "cat:eess"))
    if kind == "author":
        return f'author:"{rng.choice(people)}"'
    if kind == "initials":
        given, family = rng.choice(people).split()
        return f'author:"{given[0]}. {family}"'
    if kind == "only":
        return rng.choice(("-survey", "-workshop", "-(survey OR review)"))
    return rng.choice(descriptions)


def _plain(term: str) -> str:
    return f'"{term}"' if " " in term else term
