"""Refresh the screenshots of the README ("A digest"): ``make screenshots``, or

    .venv/bin/python -m tests.render.screenshots docs/img

A digest of real papers from the samples for a reader who follows a few topics, as a phone
(375 px), a desk (1024 px) and a mail app's forced dark mode show it; and a confirmation mail.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from service.render.digest import build_digest, render_digest, render_notice
from service.render.text import cut_abstract
from service.render.views import NoticeView, PaperCard
from tests.render import browser
from tests.render.samples import EDITION, FOOTER, MAILTO, real_cards

TOPICS = ("video", "speech", "reinforcement learning", "agent")


def reader_digest() -> tuple[list[PaperCard], list[PaperCard]]:
    """Papers matching TOPICS (with the reason the matcher gives), then the most upvoted rest."""
    mine, rest = [], []
    for card in real_cards():
        text = f"{card.title} {cut_abstract(card.summary)}".lower()
        topic = next((t for t in TOPICS if t in text), None)
        if topic and len(mine) < 4:
            where = "title" if topic in card.title.lower() else "abstract"
            mine.append(replace(card, reasons=(f"“{topic}” in {where}",)))
        else:
            rest.append(card)
    return mine, sorted(rest, key=lambda c: -c.upvotes)[:2]


def confirm_mail() -> NoticeView:
    return NoticeView(
        subject="Confirm your paperpost subscription",
        preheader="One click and your first digest is on its way.",
        heading="Please confirm your subscription",
        paragraphs=(
            "Someone, hopefully you, asked to receive paperpost digests of new research papers "
            "at this address.",
            "Open the link and press the button to start. The link works for 48 hours.",
        ),
        action_label="Confirm subscription",
        action_url="https://paperpost.example/confirm/WzEsImFiYyJd.aR1Xbw.Pq8sd0fj3",
        unsubscribe_url="",
        preferences_url="",
        postal_address=FOOTER.postal_address,
        sender_name="paperpost",
        reason="You get this mail because this address was entered on the paperpost sign-up "
        "page. If that was not you, ignore it: nothing more is sent.",
    )


def main(out: Path) -> None:
    reason = browser.available()
    if reason:
        sys.exit(f"screenshots need a browser: {reason}")
    out.mkdir(parents=True, exist_ok=True)
    mine, trending = reader_digest()
    footer = replace(
        FOOTER,
        reason="You get this daily digest from paperpost because you follow video, speech, "
        "reinforcement learning and agent.",
    )
    digest = render_digest(build_digest(EDITION, mine, trending, footer), MAILTO).html
    confirm = render_notice("confirm", confirm_mail()).html
    with browser.chromium() as driver:
        for name, html, shots in (
            ("digest", digest, (("desktop", 1024, False), ("phone", 375, False),
                                ("dark", 1024, True))),
            ("digest-confirm", confirm, (("mail", 1024, False),)),
        ):  # fmt: skip
            page = out / f".{name}.html"
            page.write_text(html, encoding="utf-8")
            for label, width, dark in shots:
                browser.load(driver, page, width, dark=dark)
                target = out / f"{name}-{label}.png"
                browser.screenshot(driver, target, width)
                print(f"wrote {target}")
            page.unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
