"""A real browser (headless Chromium via Selenium): no horizontal overflow at 375 and 1024 px,
and every text/background pair keeps a contrast of at least 4.5:1 in light mode and after a
mail app's forced dark-mode inversion. Screenshots go to the test's temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.render.digest import render_notice
from tests.render import browser
from tests.render.samples import digest_message, real_cards, with_reasons
from tests.render.test_hostile import HOSTILE, hostile_card
from tests.render.test_inline import KINDS, notice
from tests.render.test_messages import LONG_TITLES, NON_LATIN, TRENDING
from tests.servers import require

pytestmark = pytest.mark.browser
WIDTHS = (375, 1024)
MIN_CONTRAST = 4.5


def pages() -> dict[str, str]:
    cards = with_reasons(real_cards())
    long_link = replace(cards[0], code_url="https://github.com/" + "a" * 90 + "/" + "b" * 60)
    out = {
        "digest": digest_message(cards[:4], TRENDING)[1].html,
        "long-titles": digest_message([*LONG_TITLES, long_link], [])[1].html,
        "non-latin": digest_message(NON_LATIN, [])[1].html,
        "hostile": digest_message([hostile_card(HOSTILE["script in title"])], [])[1].html,
        "empty": digest_message([], [])[1].html,
    }
    for kind in ("confirm", "alert"):
        assert kind in KINDS
        out[f"notice-{kind}"] = render_notice(kind, notice(kind)).html
    return out


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    reason = browser.available()
    if reason:
        require(reason)
    with browser.chromium() as d:
        yield d


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mail-html")
    out = {}
    for name, html in pages().items():
        out[name] = folder / f"{name}.html"
        out[name].write_text(html, encoding="utf-8")
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_overflows_the_viewport(
    driver: Any, files: dict[str, Path], width: int, tmp_path: Path
) -> None:
    for name, path in files.items():
        browser.load(driver, path, width)
        scroll, client, wide = browser.overflow(driver)
        assert client == width and scroll <= width and not wide, (name, scroll, wide)
        browser.screenshot(driver, tmp_path / f"{name}-{width}.png", width)
        assert (tmp_path / f"{name}-{width}.png").stat().st_size > 5_000


def test_card_is_600_px_on_a_desk_and_fills_a_phone(driver: Any, files: dict[str, Path]) -> None:
    card = "return document.querySelector('table.card').getBoundingClientRect().width"
    browser.load(driver, files["digest"], 1024)
    assert 598 <= driver.execute_script(card) <= 602
    browser.load(driver, files["digest"], 375)
    assert 340 <= driver.execute_script(card) <= 375


@pytest.mark.parametrize("dark", [False, True], ids=["light", "forced-dark"])
def test_every_text_keeps_4_5_to_1_contrast(
    driver: Any, files: dict[str, Path], dark: bool, tmp_path: Path
) -> None:
    low = []
    for name, path in files.items():
        browser.load(driver, path, 1024, dark=dark)
        if dark:
            applied = driver.execute_script(
                "return getComputedStyle(document.documentElement).filter"
            )
            assert "invert" in applied
            browser.screenshot(driver, tmp_path / f"{name}-dark.png", 1024)
        found = browser.pairs(driver)
        assert len(found) > 5, name
        for pair in found:
            colour, background = pair.colour, pair.background
            checks = [(colour, background)]
            if dark:  # both dark models: a full inversion, and inversion keeping hues
                checks = [
                    (browser.forced_dark(colour), browser.forced_dark(background)),
                    (browser.invert(colour), browser.invert(background)),
                ]
            for fg, bg in checks:
                ratio = browser.contrast(fg, bg)
                if ratio < MIN_CONTRAST:
                    low.append((name, pair.element, pair.text, round(ratio, 2)))
    assert not low, low


def test_the_checks_catch_a_bad_page(driver: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
        '</head><body><table width="900"><tr><td><p style="color: #aaaaaa">faint</p>'
        "</td></tr></table></body></html>"
    )
    browser.load(driver, bad, 375)
    assert browser.overflow(driver)[2]
    faint = [p for p in browser.pairs(driver) if p.text == "faint"]
    assert faint and browser.contrast(faint[0].colour, faint[0].background) < MIN_CONTRAST


def test_the_contrast_maths() -> None:
    assert round(browser.contrast((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(browser.contrast((119, 119, 119), (255, 255, 255)), 2) == 4.48
    assert browser.invert((255, 255, 255)) == (0, 0, 0)
    dark_white = browser.forced_dark((255, 255, 255))
    assert max(dark_white) < 1 and browser.forced_dark((0, 0, 0))[1] > 254
