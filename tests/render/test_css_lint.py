"""Every CSS property the mail templates use works in Gmail (web, iOS, Android) and in Outlook
for Windows according to caniemail (../shared/data/caniemail_summary.md), with the limits its
notes give for partial support; and the stylesheet only uses selectors that inline once per
template."""

from __future__ import annotations

import re
from functools import cache

import pytest

from service.render.digest import render_notice
from service.render.env import TEMPLATES
from tests.render.samples import ROOT, check_message, digest_message, real_cards, with_reasons
from tests.render.test_inline import KINDS, notice
from tests.servers import require

SUMMARY = ROOT.parent / "shared" / "data" / "caniemail_summary.md"
STYLESHEET = (TEMPLATES / "email" / "_base" / "style.css").read_text()
CLIENTS = ("Gmail web", "Gmail iOS", "Gmail Android", "Outlook Windows")
# caniemail has no entry for these two: every mail client since HTML 3.2 honours them.
UNTRACKED = {"color", "font-family"}
SLUGS = {
    "border-top": "css-border", "border-bottom": "css-border", "border-left": "css-border",
    "border-right": "css-border", "padding-top": "css-padding", "padding-bottom": "css-padding",
    "padding-left": "css-padding", "padding-right": "css-padding", "margin-top": "css-margin",
    "margin-bottom": "css-margin", "margin-left": "css-margin", "margin-right": "css-margin",
}  # fmt: skip
# Outlook for Windows supports these only partly; caniemail's notes say where.
ONLY_ON = {"padding": {"td", "th"}, "max-width": {"table"}}
NOT_ON = {"width": {"body", "span", "div", "p", "img"}, "margin": {"span", "body"}}
FORBIDDEN_VALUES = re.compile(
    r"!important|rgba?\(|hsla?\(|var\(|calc\(|clamp\(|min\(|max\(|\d(?:rem|vw|vh|vmin|vmax|ch)\b"
    r"|\bauto\b|:\s*-\d|\b(?:start|end|match-parent)\b",
    re.IGNORECASE,
)


@cache
def support() -> dict[str, dict[str, str]]:
    """caniemail slug -> client -> y/a/n/u, from the summary's table of all CSS features."""
    if not SUMMARY.exists():
        require(f"the caniemail summary is missing: {SUMMARY}")
    lines = SUMMARY.read_text().splitlines()
    start = lines.index("## All CSS features")
    header = [c.strip() for c in lines[start + 2].strip("|").split("|")]
    table: dict[str, dict[str, str]] = {}
    for line in lines[start + 4 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        slug = cells[1].strip("`")
        table[slug] = {h: cells[i].rstrip("*") for i, h in enumerate(header) if i >= 2}
    return table


def declarations(html: str) -> list[tuple[str, str, str]]:
    """(element, property, value) of every inline style in ``html``."""
    out = []
    for tag, style in re.findall(r'<([a-z0-9]+)[^>]*?\sstyle="([^"]*)"', html):
        for decl in style.split(";"):
            if ":" in decl:
                name, value = decl.split(":", 1)
                out.append((tag, name.strip().lower(), value.strip()))
    return out


def rendered_html() -> list[str]:
    cards = with_reasons(real_cards())
    pages = [digest_message(cards[:5], cards[5:8])[1].html, digest_message([], [])[1].html]
    pages += [render_notice(kind, notice(kind)).html for kind in KINDS]
    return pages


def test_the_summary_parses() -> None:
    table = support()
    assert table["css-padding"]["Outlook Windows"] == "a"
    assert table["css-display-flex"]["Outlook Windows"] == "n"
    assert len(table) > 200


@pytest.mark.parametrize("index", range(2 + len(KINDS)))
def test_every_property_used_works_in_gmail_and_outlook_for_windows(index: int) -> None:
    html = rendered_html()[index]
    table = support()
    used = declarations(html)
    assert used, "no inline styles: the stylesheet was not inlined"
    problems = []
    for tag, name, value in used:
        if name in UNTRACKED:
            continue
        slug = SLUGS.get(name, f"css-{name}")
        row = table.get(slug)
        if row is None:
            problems.append(f"{name}: not in caniemail, so not known to work")
            continue
        bad = [c for c in CLIENTS if row[c] not in ("y", "a")]
        if bad:
            problems.append(f"{name} on <{tag}>: not supported in {', '.join(bad)}")
        base = name.split("-")[0] if name.startswith(("padding", "margin")) else name
        if base in ONLY_ON and tag not in ONLY_ON[base]:
            problems.append(f"{name} on <{tag}>: Outlook for Windows only on {ONLY_ON[base]}")
        if tag in NOT_ON.get(base, set()):
            problems.append(f"{name} on <{tag}>: Outlook for Windows ignores it there")
        if FORBIDDEN_VALUES.search(value):
            problems.append(f"{name}: {value}: a value Gmail or Outlook for Windows drops")
    assert not problems, sorted(set(problems))


def test_the_stylesheet_uses_simple_selectors_and_hex_colours() -> None:
    body = re.sub(r"/\*.*?\*/", "", STYLESHEET, flags=re.DOTALL)
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", body)
    assert rules
    for selector, block in rules:
        for part in selector.split(","):
            assert re.fullmatch(r"\s*[a-z0-9]*(?:\.[a-z0-9-]+)?\s*", part), part
        for colour in re.findall(r"#[0-9a-fA-F]+\b", block):
            assert len(colour) in (4, 7), colour
    assert "@media" not in body and "@import" not in body and "@font-face" not in body


def test_the_lint_catches_unsupported_css() -> None:
    sample = '<div style="display: flex;padding: 4px;margin: auto;color: rgba(0,0,0,1)">x</div>'
    found = declarations(sample)
    table = support()
    flex_ok = table["css-display-flex"]["Outlook Windows"] in ("y", "a")
    assert not flex_ok and ("div", "padding", "4px") in found
    assert FORBIDDEN_VALUES.search("auto") and FORBIDDEN_VALUES.search("rgba(0,0,0,1)")


def test_lint_pages_are_real_messages() -> None:
    cards = with_reasons(real_cards())
    raw, rendered = digest_message(cards[:2], [])
    check_message(raw, rendered, [])
