"""The HTML checks (D08, D13-D16) catch what they are for, so a clean result means something."""

from __future__ import annotations

import pytest

from service.render.checks import html_problems

BASE = "https://paperpost.example"


@pytest.mark.parametrize(
    ("html", "rule"),
    [
        ("<script>alert(1)</script>", "D14"),
        ("<form action='https://paperpost.example/x'></form>", "D14"),
        ("<iframe src='https://arxiv.org'></iframe>", "D14"),
        ('<p onclick="x()">hi</p>', "D14"),
        ('<a href="http://arxiv.org/abs/1">abs</a>', "D13"),
        ('<a href="https://evil.example/">abs</a>', "D13"),
        ('<a href="javascript:alert(1)">abs</a>', "D13"),
        ('<a href="https://arxiv.org/abs/1">https://paypal.com/login</a>', "D13"),
        ('<p style="display: none">hidden</p>', "D15"),
        ('<p style="font-size: 0">hidden</p>', "D15"),
        ('<p style="visibility:hidden">hidden</p>', "D15"),
        ('<p style="color: #ffffff;background-color: #fff">same</p>', "D15"),
        (
            '<img src="https://arxiv.org/a.png" alt="a"><img src="https://arxiv.org/b.png" alt="b">',
            "D16",
        ),
        ('<img src="https://arxiv.org/a.png">' + "<p>" + "words " * 100 + "</p>", "D16"),
        ("<p>" + "x" * 95_000 + "</p>", "D08"),
    ],
)
def test_each_rule_fires(html: str, rule: str) -> None:
    problems = html_problems(html, BASE)
    assert any(p.startswith(rule) for p in problems), problems


def test_clean_html_and_our_own_links_pass() -> None:
    html = (
        '<p style="color: #1f2937">Hello <a href="https://arxiv.org/abs/2405.1">Abstract</a> '
        '<a href="https://paperpost.example/unsubscribe/x">Unsubscribe</a> '
        '<a href="https://arxiv.org/abs/2405.1">https://arxiv.org/abs/2405.1</a></p>'
    )
    assert html_problems(html, BASE) == []
    dev = '<a href="http://127.0.0.1:8000/unsubscribe/x">Unsubscribe</a>'
    assert html_problems(dev, "http://127.0.0.1:8000") == []
