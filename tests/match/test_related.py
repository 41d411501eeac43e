"""Papers related to a keyword phrase by meaning, from the stored vectors of the window."""

from __future__ import annotations

import datetime as dt

import pytest

from service.match.engine import match_papers
from service.match.preview import describes
from service.match.related import phrase_of
from service.match.score import MatchConfig
from service.match.semantic import pack, paper_text
from service.match.types import InterestSpec, MatchResult, PaperDoc
from tests.match.fakes import HashingEncoder

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
TOPIC = "kernel regime of neural tangent networks trained by gradient descent"
FILLERS = [
    "galaxy spectra survey", "protein folding energy", "traffic forecasting graph",
    "speech recognition accents", "robot grasping policy", "medical image segmentation",
    "recommender click logs", "code generation benchmark", "weather radar nowcasting",
    "music source separation", "legal document retrieval", "fraud detection tables",
]  # fmt: skip


def window(with_vectors: bool = True) -> list[PaperDoc]:
    texts = [
        ("Feature learning at infinite width", f"We study infinite width limits: {TOPIC}."),
        ("Infinite width networks as kernels", f"Infinite width {TOPIC}."),
        ("Beyond infinite width", f"Corrections to infinite width theory: {TOPIC}."),
        ("What infinitely wide networks learn", f"Infinitely wide deep networks: {TOPIC}."),
    ]
    texts += [
        (f"{FILLERS[n % 12]} study {n}", f"{FILLERS[n % 12]} with data {n}.") for n in range(36)
    ]
    encoder = HashingEncoder()
    vectors = encoder.encode([paper_text(t, s) for t, s in texts])
    return [
        PaperDoc(
            n, f"2611.{n:05d}", title, summary, ingested_at=NOW,
            embedding=pack(vector, paper_text(title, summary)) if with_vectors else None,
        )
        for n, ((title, summary), vector) in enumerate(zip(texts, vectors, strict=True))
    ]  # fmt: skip


def matched(
    interest: str, papers: list[PaperDoc], reference: list[PaperDoc] | None = None
) -> dict[int, MatchResult]:
    found = match_papers(
        papers,
        [InterestSpec(1, 1, interest)],
        now=NOW,
        config=MatchConfig(),
        reference=reference or [],
    )
    return {m.paper_id: m for m in found}


def test_a_phrase_relates_a_paper_about_it_written_otherwise() -> None:
    found = matched("infinite width", window())
    assert set(found) == {0, 1, 2, 3}
    assert found[3].reasons == ("related to “infinite width”",)
    assert found[3].score < min(found[n].score for n in (0, 1, 2))  # under the word matches


def test_the_beat_job_relates_what_match_test_relates() -> None:
    papers = window()
    pending = [papers[3], *papers[30:]]
    assert set(matched("infinite width", pending, reference=papers)) == {3}
    assert set(matched("infinite width", papers)) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    "interest",
    [
        "width",  # one word: its exact words only
        "title:(infinite width)",
        '"infinite width" -survey',
        "infinite OR width",
        'about:"infinite width"',
    ],
)
def test_only_plain_phrases_relate_papers(interest: str) -> None:
    reasons = [r for m in matched(interest, window()).values() for r in m.reasons]
    assert reasons and not any(r.startswith("related to") for r in reasons)


def test_nothing_is_related_without_stored_vectors() -> None:
    assert set(matched("infinite width", window(with_vectors=False))) == {0, 1, 2}


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("infinite width", "infinite width"),
        ('"vision transformer"', "vision transformer"),
        ("self-supervised", "self-supervised"),
        ("CTR", None),
        ("mamba", None),
        ("mamba OR s4", None),
        ("cat:cs.CV", None),
        ("diffusion video -survey", None),
        ("-survey", None),
        ("(((", None),
    ],
)
def test_which_interests_are_phrases(value: str, phrase: str | None) -> None:
    assert phrase_of(value) == phrase


@pytest.mark.parametrize(
    ("interests", "expected"),
    [
        (["infinite width"], False),  # stored vectors only: a keyword preview never embeds
        (["mamba", "cat:cs.CV"], False),
        (['about:"infinite width"'], True),
        (["mamba", "theory of very wide neural networks"], True),
    ],
)
def test_the_preview_loads_the_encoder_for_descriptions_only(
    interests: list[str], expected: bool
) -> None:
    assert describes(interests) is expected
