"""Digest inputs for the render tests, the benchmark and the screenshots: real papers from the
shared samples (HF daily papers of 2024 and 2025, an arXiv API search), subscriber shapes, and
hostile paper data."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from service.ingest.files import read
from service.ingest.model import RawPaper
from service.render.digest import Edition
from service.render.views import Footer, PaperCard

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
