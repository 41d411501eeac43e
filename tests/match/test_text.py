from __future__ import annotations

import pytest

from service.match.text import analyze, fold, raw_words, stem, tokens


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("models", "model"),
        ("Transformers", "transformer"),
        ("optimisation", "optimization"),
        ("normalised", "normalized"),
        ("GANs", "GAN"),
        ("LLMs", "LLM"),
        ("hierarchies", "hierarchy"),
        ("Poincar\\'e", "Poincaré"),
        ("Poincaré", "poincare"),
        ("generalisation", "generalization"),
        ("generalize", "generalization"),
        ("optimisers", "optimizer"),
        ("contrastively", "contrastive"),
    ],
)
def test_forms_a_researcher_considers_equal(a: str, b: str) -> None:
    assert tokens(a) == tokens(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("transformer", "transformation"),  # Porter conflates these; a researcher would not
        ("operator", "operation"),
        ("continual", "continuous"),
        ("organ", "began"),
        ("contrastive", "contrasting"),
        ("objective", "object"),
        ("positional", "positive"),
        ("experience", "experiments"),
        ("generalization", "general"),
        ("normalization", "normal"),
        ("initialization", "initial"),
    ],
)
def test_forms_kept_apart(a: str, b: str) -> None:
    assert tokens(a) != tokens(b)


def test_acronyms_keep_an_exact_form_beside_the_stem() -> None:
    clipping = analyze("gradient clipping with CLIP")
    assert clipping.stems[1] == clipping.stems[3] == "clip"  # same stem...
    assert clipping.exact[1] == "clipping" and clipping.exact[3] == "clip"  # ...not the same word


def test_words_possessives_tex_and_unicode() -> None:
    assert raw_words("Plato's Cave, can't stop: ﬁne-tuning") == [
        "Plato", "Cave", "cant", "stop", "fine", "tuning"
    ]  # fmt: skip
    assert fold(r"\"{o}ber \c{c}a \cite{x}") == "ober ca cite {x}"
    assert tokens("selfsupervised") == [stem("self" + "supervised")]
