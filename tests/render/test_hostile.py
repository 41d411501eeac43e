"""Hostile paper data (titles, abstracts, authors, links and reasons come from outside):
everything is escaped or neutralised and the message stays well-formed."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from email import policy

import pytest

from service.render.views import PaperCard
from tests.render.samples import check_message, digest_message, real_cards, visible

BASE = real_cards()[0]
BIDI = "\u202e"

HOSTILE: dict[str, dict[str, object]] = {
    "script in title": {"title": "<script>alert(1)</script> Diffusion"},
    "img onerror in abstract": {"summary": 'Results. <img src=x onerror="alert(1)"> More.'},
    "html in authors": {"authors": ("<b>Bold</b> Author", "</td></tr></table>Break")},
    "javascript and data links": {
        "abs_url": "javascript:alert(document.cookie)",
        "pdf_url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "code_url": "JaVaScRiPt:alert(1)",
        "hf_url": 'https://huggingface.co/papers/2405.18407" onmouseover="alert(1)',
    },
    "CR LF in title": {"title": "Line one\r\nBcc: victim@example.org\r\n\r\nbody"},
    "encoded newline in title": {"title": "=?UTF-8?Q?=0A?=Bcc: victim@example.org"},
    "bidi override": {"title": f"Safe {BIDI}txt.exe", "authors": (f"{BIDI}evil",)},
    "100 KB abstract": {"summary": "Word " * 20_000 + ". End."},
    "template syntax": {"title": "{{ 7*7 }} {% for x in y %} ${7*7}"},
    "NUL and controls": {"title": "a\x00b\x1bc\x7fd", "summary": "x\x00y\x08z."},
    "hostile reason": {"reasons": ("“<script>x</script>” in title", "category <b>cs.LG</b>")},
}


def hostile_card(fields: dict[str, object]) -> PaperCard:
    return replace(BASE, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_paper_data_is_neutralised(case: str) -> None:
    card = hostile_card(HOSTILE[case])
    for for_you, trending in (([card], []), ([], [card])):  # the subject uses a trending title
        raw, rendered = digest_message(for_you, trending)
        msg = check_message(raw, rendered, [])
        html = rendered.html.lower()
        assert "<script" not in html and "<img" not in html and "<b>" not in html
        assert not re.search(r"<[^>]*\son\w+\s*=", html)  # no event handler in any tag
        assert not re.search(r"href=\"(?!https://)", html)
        assert (
            BIDI not in rendered.html
            and BIDI not in rendered.text
            and BIDI not in str(msg["Subject"])
        )
        assert msg.get_all("Bcc") is None and msg.get_all("bcc") is None
        assert "\x00" not in rendered.text and "\x1b" not in rendered.text
        assert len(raw) < 200_000


def test_markup_in_titles_is_shown_as_text() -> None:
    _raw, rendered = digest_message([hostile_card(HOSTILE["script in title"])], [])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script>alert(1)</script> Diffusion" in rendered.text
    shown, hrefs = visible(rendered.html)
    assert "<script>alert(1)</script>" in shown
    assert all(h.startswith("https://") for h in hrefs)


def test_template_syntax_in_data_is_never_evaluated() -> None:
    _, rendered = digest_message([hostile_card(HOSTILE["template syntax"])], [])
    assert "{{ 7*7 }}" in rendered.text and "49" not in rendered.text


def test_unsafe_links_are_dropped_not_rewritten() -> None:
    _, rendered = digest_message([hostile_card(HOSTILE["javascript and data links"])], [])
    _, hrefs = visible(rendered.html)
    assert not any("alert" in h for h in hrefs)
    assert "PDF:" not in rendered.text and "Code:" not in rendered.text


def test_injected_headers_stay_inside_the_subject() -> None:
    for case in ("CR LF in title", "encoded newline in title"):
        raw, _rendered = digest_message([], [hostile_card(HOSTILE[case])])
        head = raw.partition(b"\r\n\r\n")[0]
        assert b"\r\nBcc:" not in head and b"\nBcc" not in head
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert "Bcc:" in str(msg["Subject"])  # the text is shown, not obeyed
        assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
        reparsed = email.message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
        assert reparsed.get_all("Bcc") is None  # a stdlib relay re-serialising it is safe too


def test_a_100_kb_abstract_is_cut() -> None:
    raw, rendered = digest_message([hostile_card(HOSTILE["100 KB abstract"])], [])
    assert len(rendered.html) < 20_000 and len(raw) < 40_000
