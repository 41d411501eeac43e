"""Checks of a rendered HTML part (RELIABILITY.md D08, D13-D16), run by the tests on every
template and sample and, with the full re-parse, on a sample of real sends."""

from __future__ import annotations

import re
from collections.abc import Collection
from html.parser import HTMLParser
from urllib.parse import urlsplit

from service.render.links import host_allowed

MAX_HTML = 90_000  # D08: Gmail clips at about 102 KB
FORBIDDEN_TAGS = frozenset({"script", "form", "iframe", "object", "embed", "frame", "applet"})
_HIDDEN = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em|%)?\s*(?:;|$)"
    r"|max-height\s*:\s*0|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)",
    re.IGNORECASE,
)
_COLOR = re.compile(r"(?:^|;)\s*color\s*:\s*(#[0-9a-f]{3,6})", re.IGNORECASE)
_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-f]{3,6})", re.IGNORECASE)
_URLISH = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)


class _Walker(HTMLParser):
    def __init__(self, own_hosts: Collection[str], own_prefix: str) -> None:
        super().__init__(convert_charrefs=True)
        self.own_hosts, self.own_prefix = own_hosts, own_prefix
        self.problems: list[str] = []
        self.images, self.text_bytes = 0, 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"D14: <{tag}>")
        values = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"D14: {name}= on <{tag}>")
        style = values.get("style") or ""
        if _HIDDEN.search(style):
            self.problems.append(f"D15: hidden content on <{tag}>: {style[:60]}")
        colour, background = _COLOR.search(style), _BACKGROUND.search(style)
        if colour and background and _hex(colour.group(1)) == _hex(background.group(1)):
            self.problems.append(f"D15: text colour equals background on <{tag}>")
        if tag == "img":
            self.images += 1
            if not (values.get("alt") or "").strip():
                self.problems.append("D16: <img> without alt text")
        if tag == "a":
            self._href, self._link_text = values.get("href") or "", []
            self._check_href(self._href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            shown = "".join(self._link_text).strip()
            if _URLISH.match(shown) and shown.rstrip("/") != self._href.rstrip("/"):
                self.problems.append(f"D13: link text {shown[:60]!r} is not its target")
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text_bytes += len(data.strip().encode())
        if self._href is not None:
            self._link_text.append(data)

    def _check_href(self, href: str) -> None:
        if self.own_prefix and href.startswith(self.own_prefix):
            return
        parts = urlsplit(href)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https":
            self.problems.append(f"D13: href is not https: {href[:80]!r}")
        elif not (host in self.own_hosts or host_allowed(host)):
            self.problems.append(f"D13: href to an unknown host: {href[:80]!r}")


def _hex(value: str) -> str:
    value = value.lower().lstrip("#")
    return "".join(c * 2 for c in value) if len(value) == 3 else value


def html_problems(html: str, public_base_url: str, extra_hosts: Collection[str] = ()) -> list[str]:
    """Every D08, D13-D16 violation of ``html``; empty when it may be sent."""
    base = urlsplit(public_base_url)
    own = {(base.hostname or "").lower(), *extra_hosts}
    walker = _Walker(own, public_base_url.rstrip("/") + "/")
    walker.feed(html)
    walker.close()
    problems = walker.problems
    size = len(html.encode())
    if size >= MAX_HTML:
        problems.append(f"D08: HTML part is {size} bytes (limit {MAX_HTML})")
    if walker.images > 1 or (walker.images and walker.text_bytes < 400 * walker.images):
        problems.append(f"D16: {walker.images} images for {walker.text_bytes} bytes of text")
    return problems
