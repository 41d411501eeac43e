"""Digest inputs for the render tests, the benchmark and the screenshots: real papers from the
shared samples (HF daily papers of 2024 and 2025, an arXiv API search), subscriber shapes, and
hostile paper data."""

from __future__ import annotations

import datetime as dt
import email
import email.utils
import re
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from service.ingest.files import read
from service.ingest.model import RawPaper
from service.render.checks import html_problems
from service.render.digest import Edition, build_digest, render_digest
from service.render.views import Footer, PaperCard, RenderedEmail
from service.send.compose import Envelope, compose_message

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "samples"
BUNDLED = ROOT / "service" / "demo"
EDITION = Edition(dt.date(2026, 11, 27))
BASE_URL = "https://paperpost.example"
UNSUBSCRIBE = f"{BASE_URL}/unsubscribe/WzEsImFiY2RlZjAxIl0.AbCdEfGhIjKlMnOpQrStUvWxYz0"
MAILTO = "mailto:unsubscribe@paperpost.example?subject=unsubscribe%20WzEsImFiY2RlZjAxIl0.AbC"
FOOTER = Footer(
    reason="You get this daily digest from paperpost because you follow mamba, diffusion "
    "and cs.CV.",
    preferences_url=f"{BASE_URL}/preferences/WzEsImFiY2RlZjAxIl0.aR1Xbw.Pq8sd0fj3",
    unsubscribe_url=UNSUBSCRIBE,
    postal_address="paperpost, 1 Example Street, 10115 Berlin, Germany",
    sender_name="paperpost",
)


def card(raw: RawPaper, reasons: tuple[str, ...] = ()) -> PaperCard:
    return PaperCard(
        arxiv_id=raw.arxiv_id,
        title=raw.title,
        summary=raw.summary,
        authors=tuple(a.name for a in raw.authors),
        affiliations=tuple(x for a in raw.authors for x in a.affiliations),
        categories=raw.categories,
        abs_url=raw.abs_url,
        pdf_url=raw.pdf_url,
        hf_url=raw.hf_url,
        code_url=raw.code_url,
        organization=raw.organization,
        ai_summary=raw.ai_summary,
        upvotes=raw.upvotes or 0,
        num_comments=raw.num_comments or 0,
        reasons=reasons,
    )


def real_cards() -> list[PaperCard]:
    """Every paper of the samples, in file order, without reasons."""
    paths = sorted(SHARED.glob("*.json")) + sorted(SHARED.glob("arxiv_api*.xml"))
    if not paths:
        paths = sorted(BUNDLED.glob("*.json"))
    out: dict[str, PaperCard] = {}
    for path in paths:
        for raw in read(path).papers:
            out.setdefault(raw.arxiv_id, card(raw))
    return list(out.values())


def with_reasons(cards: list[PaperCard]) -> list[PaperCard]:
    """Give each card a plausible reason built from a word of its own title."""
    out = []
    for c in cards:
        words = [w.strip(":,.()") for w in c.title.split() if len(w.strip(":,.()")) > 5]
        term = words[0].lower() if words else "model"
        reasons = (f"“{term}” in title",)
        if c.categories:
            reasons += (f"category {c.categories[0]}",)
        out.append(replace(c, reasons=reasons))
    return out


# --- composing and checking whole messages -------------------------------------------------

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
MESSAGE_ID = "0123456789abcdef0123456789abcdef@paperpost.example"


def envelope(rendered: RenderedEmail, message_id: str = MESSAGE_ID) -> Envelope:
    listed = bool(rendered.unsubscribe_url)
    return Envelope(
        message_id=message_id,
        from_address="digest@paperpost.example",
        from_name="paperpost",
        to_address="ada@example.org",
        date=NOW,
        list_id="digest.paperpost.example" if listed else "",
        unsubscribe_url=rendered.unsubscribe_url,
        unsubscribe_mailto=rendered.unsubscribe_mailto,
        feedback_id="digest:paperpost.example",
    )


def digest_message(
    for_you: list[PaperCard],
    trending: list[PaperCard],
    *,
    edition: Edition = EDITION,
    use_ai: bool = False,
    text_only: bool = False,
) -> tuple[bytes, RenderedEmail]:
    view = build_digest(edition, for_you, trending, FOOTER, use_ai=use_ai)
    rendered = render_digest(view, MAILTO)
    raw = compose_message(rendered, envelope(rendered), text_only, full_check=True)
    return raw, rendered


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hrefs: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("title", "style")
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("title", "style")
        if tag in ("p", "h1", "h2", "h3", "td", "tr", "table", "div"):
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def visible(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.chunks), parser.hrefs


def words(text: str) -> set[str]:
    return {w.casefold() for w in re.findall(r"[^\W_]+", text) if not w.isdigit()}


def check_message(raw: bytes, rendered: RenderedEmail, titles: list[str]) -> EmailMessage:
    """Every per-message promise of RELIABILITY.md 6.1 that needs no DKIM or SpamAssassin."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert not msg.defects
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):  # D02
        assert len(msg.get_all(name) or []) == 1, name
    assert msg["From"].addresses[0].display_name == "paperpost"  # D09: constant sender name
    assert re.fullmatch(r"<[^@\s<>]+@paperpost\.example>", msg["Message-ID"])  # D05
    date = email.utils.parsedate_to_datetime(msg["Date"])  # D06
    assert date.utcoffset() == dt.timedelta(0) and abs(date - NOW) < dt.timedelta(minutes=5)
    subject = str(msg["Subject"])  # D09
    assert subject == rendered.subject and len(subject) < 78
    assert not re.match(r"(?i)(re|fwd?):", subject)
    assert not re.search(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]", subject)
    for line in raw.split(b"\r\n"):  # D04
        assert len(line) <= 998 and b"\n" not in line and b"\r" not in line
    head = raw.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n"):
        breakable = b" " in line.strip()[line.find(b":") + 2 :] if b":" in line else False
        assert len(line) <= 78 or not breakable, line
    assert len(raw) < 200_000  # D17
    if rendered.unsubscribe_url:  # D01
        assert len(msg.get_all("List-Unsubscribe") or []) == 1
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
        assert links[0].startswith("https://") and links[0] == rendered.unsubscribe_url
    if msg.get_content_type() == "text/plain":
        text = msg.get_content()
        html = ""
    else:  # D07
        assert msg.get_content_type() == "multipart/alternative"
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in parts)
        text, html = parts[0].get_content(), parts[1].get_content()
        shown, hrefs = visible(html)
        assert not html_problems(html, BASE_URL)  # D08, D13-D16
        if rendered.unsubscribe_url:
            assert rendered.unsubscribe_url in hrefs
        squeezed = "".join(text.split()).casefold()  # words broken to fit 78 columns
        missing = {w for w in words(shown) - words(text) if w not in squeezed}
        assert not missing, missing  # the same content in both parts
        html_squeezed = "".join(shown.split()).casefold()
        extra = {w for w in words(text) - words(shown) if w not in html_squeezed}
        url_words = words(" ".join(re.findall(r"\S+://\S+", text)))
        assert extra <= url_words, extra - url_words
    flat = "".join(text.split())
    for title in titles:
        assert "".join(title.split()) in flat, title
        if html:
            assert "".join(title.split()) in "".join(visible(html)[0].split()), title
    if rendered.unsubscribe_url:
        assert rendered.unsubscribe_url in text
    assert all(len(line) <= 78 or " " not in line for line in text.splitlines())
    return msg
