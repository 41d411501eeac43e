from __future__ import annotations

import pytest

from service.match.query import InterestSyntaxError, parse_interest

KINDS = [
    ("diffusion", "keyword", "diffusion"),
    ('"vision transformer"', "keyword", '"vision transformer"'),
    ("diffusion video", "keyword", "diffusion video"),
    ("neural architecture search", "keyword", "neural architecture search"),
    ("mamba | s4", "keyword", "mamba OR s4"),
    ("(diffusion OR flow) video", "keyword", "(diffusion OR flow) video"),
    ("NOT survey", "keyword", "-survey"),
    ("diffusion AND video -survey", "keyword", "diffusion video -survey"),
    ("cat:cs.cv", "category", "cat:cs.CV"),
    ("cat:cs", "category", "cat:cs"),
    ("category:astro-ph.ga", "category", "cat:astro-ph.GA"),
    ('author:"k. he"', "author", 'author:"K. He"'),
    ("au:LeCun", "author", "author:LeCun"),
    ("ti:mamba", "keyword", "title:mamba"),
    ('about:"efficient long-sequence models"', "text", 'about:"efficient long-sequence models"'),
    (
        "recommender systems feature interactions",
        "text",
        "recommender systems feature interactions",
    ),
    ('about:"mamba for vision" cat:cs.CV', "text", 'about:"mamba for vision" cat:cs.CV'),
    ("“vision  transformer”", "keyword", '"vision transformer"'),
]


@pytest.mark.parametrize(("typed", "kind", "text"), KINDS)
def test_kinds_and_normalised_text(typed: str, kind: str, text: str) -> None:
    parsed = parse_interest(typed)
    assert (parsed.kind, parsed.text) == (kind, text)
    assert parse_interest(parsed.text).root == parsed.root  # the normalised text round-trips


def test_describe_echoes_the_parts() -> None:
    described = parse_interest('cat:cs.CV "vision transformer" -survey').describe()
    assert described["kind"] == "keyword"
    assert described["query"] == {
        "all": [
            {"type": "category", "code": "cs.CV", "archive": False},
            {"type": "phrase", "text": "vision transformer", "in": "title or abstract"},
            {"not": {"type": "keyword", "text": "survey", "in": "title or abstract"}},
        ]
    }
    assert (
        described["explain"]
        == "category cs.CV and the phrase “vision transformer”, but not “survey”"
    )
    assert parse_interest("-survey").describe()["exclusion_only"] is True


def test_lowercase_or_is_a_word_with_a_note() -> None:
    parsed = parse_interest("mamba or s4")
    assert parsed.kind == "keyword" and "write OR" in parsed.notes[0]


ERRORS = [
    ("", 0, "Type a keyword"),
    ('"vision transformer', 0, "closing"),
    ("(diffusion", 0, "“)”"),
    ("diffusion)", 9, "“(”"),
    ("diffusion OR", 10, "between two terms"),
    ("OR diffusion", 0, "between two terms"),
    ("foo:bar", 0, "cat:, author:, title: or about:"),
    ("cat:", 0, "cat:cs.CV"),
    ("cat:cv", 4, "cs.CV"),
    ("cat:cs.VC", 4, "Did you mean"),
    ('-about:"x y z"', 1, "Exclude keywords"),
    ("a OR -b", 5, "on their own"),
    ("-(a b)", 1, "-(survey OR review)"),
    ("--survey", 0, "One is enough"),
    ("the", 0, "more specific"),
    ("&&", 0, "punctuation"),
    ("x" * 501, 500, "under 500"),
    ("(a OR b) (c OR d) (e OR f) (g OR h) (i OR j) (k OR l)", 0, "split"),
]


@pytest.mark.parametrize(("typed", "position", "hint"), ERRORS)
def test_errors_have_a_position_and_a_hint(typed: str, position: int, hint: str) -> None:
    with pytest.raises(InterestSyntaxError) as caught:
        parse_interest(typed)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.position == position and hint in error.hint
    assert f"(at character {position + 1})" in str(error) and error.hint in str(error)
    assert error.caret(typed).splitlines()[-1] == " " * position + "^"
