from __future__ import annotations

import pytest

from service.match.engine import InterestIndex, match_papers
from service.match.types import InterestSpec, PaperDoc


def run(interest: str, title: str, summary: str = "") -> list[str]:
    index = InterestIndex([InterestSpec(1, 1, interest)])
    found = match_papers([PaperDoc(1, "2401.00001", title, summary)], index)
    return [r for m in found for r in m.reasons]


@pytest.mark.parametrize(
    ("interest", "title", "hit"),
    [
        ("GAN", "Combating mode collapse in GANs", True),
        ("GAN", "An organ segmentation model", False),
        ("GAN", "We began training", False),
        ("CTR", "Click-through rate (CTR) prediction", True),
        ("CTR", "Contrastive spectra", False),
        ("transformer", "Vision Transformers at scale", True),
        ('"vision transformer"', "Efficient multi-stage vision transformers", True),
        ('"vision transformer"', "Transformer for vision tasks", False),
        ("diffusion video", "Video diffusion models", True),
        ("diffusion video", "Diffusion models for images", False),
    ],
)
def test_word_boundaries_plurals_phrases(interest: str, title: str, hit: bool) -> None:
    assert bool(run(interest, title)) is hit


def test_reasons_say_where() -> None:
    assert run("mamba", "Mamba for vision", "we use mamba") == ["“mamba” in title"]
    assert run("mamba", "Vision models", "we use mamba") == ["“mamba” in abstract"]
