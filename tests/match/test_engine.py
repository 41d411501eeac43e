"""The matching rules, one paper and one interest at a time."""

from __future__ import annotations

import datetime as dt

import pytest

from service.match.engine import match_papers
from service.match.score import MatchConfig
from service.match.types import InterestSpec, MatchResult, PaperDoc

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def paper(n: int, title: str, summary: str = "", **extra: object) -> PaperDoc:
    return PaperDoc(n, f"2611.{n:05d}", title, summary, ingested_at=NOW, **extra)  # type: ignore[arg-type]


def run(interests: list[str], papers: list[PaperDoc], **config: object) -> list[MatchResult]:
    specs = [InterestSpec(n, 1, text) for n, text in enumerate(interests)]
    found = match_papers(papers, specs, now=NOW, config=MatchConfig(**config))  # type: ignore[arg-type]
    return sorted(found, key=lambda m: -m.score)


def hit(interest: str, title: str, summary: str = "") -> bool:
    return bool(run([interest], [paper(1, title, summary)]))


@pytest.mark.parametrize(
    ("interest", "title", "expected"),
    [
        ("GAN", "Combating mode collapse in GANs", True),
        ("GAN", "An organ segmentation model", False),
        ("GAN", "Training began yesterday", False),
        ("CTR", "Click-through rate (CTR) prediction", True),
        ("CTR", "Contrastive learning on galaxy spectra", False),
        ("NAS", "Data from NASA missions", False),
        ("CLIP", "Gradient clipping for stable training", False),
        ("CLIP", "Zero-shot transfer with CLIP", True),
        ("transformer", "Vision Transformers at scale", True),
        ("transformer", "A basis transformation for retrieval", False),
        ("self-supervised", "Self supervised depth", True),
        ("self-supervised", "Selfsupervised depth", True),
        ("selfsupervised", "Self-supervised depth", True),
        ("self supervised", "Self-supervised depth", True),
        ('"vision transformer"', "Efficient multi-stage vision transformers", True),
        ('"vision transformer"', "Transformers for vision tasks", False),
        ("diffusion video", "Video diffusion models", True),
        ("diffusion video", "Diffusion models for images", False),
        ("mamba OR s4", "S4 for long sequences", True),
        ("mamba -survey", "A survey of Mamba models", False),
        ("mamba -survey", "Mamba for vision", True),
        ("title:mamba", "Vision models", False),
        ("RNN", "Recurrent neural networks revisited", True),
        ("optimization", "Optimisation of deep nets", True),
        ("contrastive learning", "Contrastive representation learning", True),
        ("contrastive learning", "Comparing and contrasting learned features", False),
        ("positional encoding", "Encoding positive pairs", False),
    ],
)
def test_word_boundaries_forms_phrases_and_operators(
    interest: str, title: str, expected: bool
) -> None:
    assert (
        hit(interest, title, "mamba appears in this abstract" if interest == "title:mamba" else "")
        is expected
    )


def test_acronym_defined_in_the_abstract_counts_for_its_long_form() -> None:
    long_form = paper(
        1, "Feature interactions for click-through rate prediction", "We study CTR models."
    )
    defined = paper(
        2, "Sparse features", "Click-through rate (CTR) prediction is hard. CTR models fail."
    )
    found = run(["CTR"], [long_form, defined])
    assert [m.paper_id for m in found] == [1, 2]  # the long form in the title ranks first
    assert found[0].reasons == ("“CTR” in title",)


def test_categories_whole_archives_and_authors() -> None:
    papers = [
        paper(1, "A", categories=("cs.CV",), authors=("Kaiming He", "Ross Girshick")),
        paper(2, "B", categories=("cs.LG", "stat.ML"), authors=("Dirk Wübben",)),
        paper(3, "C", categories=("astro-ph.GA",), authors=("K. He",)),
    ]
    assert [m.paper_id for m in run(["cat:cs.CV"], papers)] == [1]
    assert sorted(m.paper_id for m in run(["cat:cs"], papers)) == [1, 2]
    assert sorted(m.paper_id for m in run(['author:"K. He"'], papers)) == [1, 3]
    assert [m.paper_id for m in run(['author:"Dirk Wubben"'], papers)] == [2]
    assert run(["cat:stat.ML"], papers)[0].reasons == ("category stat.ML",)
    assert run(['author:"Ross Girshick"'], papers)[0].reasons == ("author Ross Girshick",)


def test_exclusion_only_interest_filters_the_subscribers_other_interests() -> None:
    papers = [paper(1, "Mamba for vision"), paper(2, "A survey of Mamba")]
    assert [m.paper_id for m in run(["mamba", "-survey"], papers)] == [1]
    assert run(["-survey"], papers) == []


def test_title_above_abstract_and_rarity_and_proximity() -> None:
    papers = [
        paper(1, "Efficient models", "We use mamba blocks."),
        paper(2, "Mamba for vision", "A vision backbone."),
        paper(3, "State space models for vision", "A state space model."),
        paper(4, "State of the art", "A latent space and models of vision."),
    ]
    assert [m.paper_id for m in run(["mamba"], papers)] == [2, 1]
    ranked = [m.paper_id for m in run(["state space models"], papers)]
    assert ranked[0] == 3 and (4 not in ranked or ranked.index(4) > ranked.index(3))
    assert run(["state space models"], papers)[0].reasons == ("“state space models” in title",)


def test_threshold_normalised_per_interest() -> None:
    scattered = paper(
        1, "State of the art", "Latent space. " + "Filler text. " * 40 + "Our models."
    )
    assert run(["state space models"], [scattered]) == []  # common words far apart
    assert run(["state space models"], [scattered], threshold=0.0) != []


def test_boosts_order_equal_matches_by_trending_and_recency() -> None:
    old = paper(1, "Mamba", published_at=NOW - dt.timedelta(days=6))
    new = paper(2, "Mamba", published_at=NOW)
    liked = paper(3, "Mamba", upvotes=150, published_at=NOW - dt.timedelta(days=6))
    assert [m.paper_id for m in run(["mamba"], [old, new, liked])] == [3, 2, 1]
    flat = run(["mamba"], [old, new, liked], trending_boost=0.0, recency_boost=0.0)
    assert len({round(m.score, 9) for m in flat}) == 1


def test_several_interests_of_one_subscriber_make_one_row_with_a_bonus() -> None:
    both = paper(1, "Mamba and diffusion")
    one = paper(2, "Mamba alone")
    found = run(["mamba", "diffusion"], [both, one])
    assert [m.paper_id for m in found] == [1, 2] and found[0].score > found[1].score


def test_negated_interest_row_excludes() -> None:
    papers = [paper(1, "Mamba for vision"), paper(2, "Mamba survey")]
    specs = [InterestSpec(1, 7, "mamba"), InterestSpec(2, 7, "survey", negated=True)]
    assert [m.paper_id for m in match_papers(papers, specs, now=NOW)] == [1]


def test_an_interest_that_no_longer_parses_is_skipped() -> None:
    specs = [InterestSpec(1, 1, "cat:nonsense"), InterestSpec(2, 1, "mamba")]
    assert [m.paper_id for m in match_papers([paper(1, "Mamba")], specs, now=NOW)] == [1]
