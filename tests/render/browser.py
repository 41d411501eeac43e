"""Headless Chromium for the mail tests and ``make screenshots``: render an HTML part at a
given width, measure overflow, collect every text/background colour pair, take screenshots,
and model a mail app's forced dark mode (colour inversion)."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--hide-scrollbars", "--force-color-profile=srgb", "--disable-gpu",
)  # fmt: skip
MAX_HEIGHT = 8000
DARK = "invert(1) hue-rotate(180deg)"  # what Gmail's and Outlook's apps approximate

PAIRS_JS = """
const out = [];
const opaque = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const bg = getComputedStyle(e).backgroundColor;
    const m = bg.match(/rgba?\\(([^)]+)\\)/);
    if (m) { const p = m[1].split(',').map(Number); if (p.length < 4 || p[3] > 0) return bg; }
    const attr = e.getAttribute && e.getAttribute('bgcolor');
    if (attr) return attr;
  }
  return 'rgb(255, 255, 255)';
};
for (const el of document.body.querySelectorAll('*')) {
  const own = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
  if (!own.length) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  out.push([el.tagName.toLowerCase(), own[0].textContent.trim().slice(0, 40),
            getComputedStyle(el).color, opaque(el)]);
}
return out;
"""
OVERFLOW_JS = """
const w = document.documentElement.clientWidth;
const wide = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width && r.right > w + 0.5) wide.push(el.tagName.toLowerCase() + ' ' + Math.round(r.right));
}
return [document.documentElement.scrollWidth, w, wide.slice(0, 10)];
"""


@dataclass(frozen=True, slots=True)
class Pair:
    element: str
    text: str
    colour: tuple[int, int, int]
    background: tuple[int, int, int]


def available() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for binary in ("chromium", "chromedriver"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in FLAGS:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "chromium"
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def load(driver: Any, path: Path, width: int, dark: bool = False) -> None:
    """Open ``path`` in a viewport ``width`` CSS pixels wide (a phone below 600)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get(path.resolve().as_uri())
    if dark:
        driver.execute_script(f"document.documentElement.style.filter = '{DARK}';")


def overflow(driver: Any) -> tuple[int, int, list[str]]:
    scroll, width, wide = driver.execute_script(OVERFLOW_JS)
    return int(scroll), int(width), list(wide)


def _rgb(value: str) -> tuple[int, int, int]:
    value = value.strip()
    if value.startswith("#"):
        h = value[1:]
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    parts = value[value.index("(") + 1 : value.index(")")].split(",")
    return int(float(parts[0])), int(float(parts[1])), int(float(parts[2]))


def pairs(driver: Any) -> list[Pair]:
    return [
        Pair(tag, text, _rgb(c), _rgb(b)) for tag, text, c, b in driver.execute_script(PAIRS_JS)
    ]


def screenshot(driver: Any, path: Path, width: int) -> None:
    height = min(
        MAX_HEIGHT, int(driver.execute_script("return document.documentElement.scrollHeight"))
    )
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))


# --- colour maths (WCAG 2 contrast; CSS filter effects in sRGB) ----------------------------


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(x) for x in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def invert(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = rgb
    return 255 - r, 255 - g, 255 - b


def hue_rotate_180(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """The CSS ``hue-rotate(180deg)`` matrix (Filter Effects 1), clamped."""
    r, g, b = rgb
    rows = ((-0.574, 1.430, 0.144), (0.426, 0.430, 0.144), (0.426, 1.430, -0.856))
    return tuple(min(255.0, max(0.0, x * r + y * g + z * b)) for x, y, z in rows)  # type: ignore[return-value]


def forced_dark(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """A colour after the forced dark mode of DARK."""
    return hue_rotate_180(invert(rgb))
