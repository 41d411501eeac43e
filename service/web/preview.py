"""The live preview on the forms: the papers of the last week the typed interests would have
matched, from the match stage's own preview (same parser, scoring and threshold)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from service.config import Settings
from service.ingest.ids import is_local
from service.match.preview import preview_interests
from service.track.interests import InterestProblem
from service.web.views import NO_PREVIEW, Preview, PreviewHit

LIMIT = 10


def preview(
    session: Session,
    settings: Settings,
    interests: tuple[str, ...],
    problems: tuple[InterestProblem, ...],
    now: dt.datetime,
) -> Preview:
    if not interests:
        return NO_PREVIEW
    wrong = {p.text for p in problems}
    valid = [value for value in interests if value not in wrong]
    hits = preview_interests(session, settings, valid, now, limit=LIMIT) if valid else []
    note = "" if hits else "Nothing from the last week matches yet; new papers arrive daily."
    return Preview(
        shown=True,
        hits=tuple(
            PreviewHit(
                arxiv_id=hit.arxiv_id,
                title=hit.title,
                url=_safe_url(hit.abs_url, hit.arxiv_id),
                score=f"{hit.score:.2f}",
                reasons=tuple(hit.reasons),
            )
            for hit in hits
        ),
        problems=problems,
        note=note,
    )


def _safe_url(url: str | None, arxiv_id: str) -> str:
    """Only http(s) links reach an href (RELIABILITY.md W10); a paper with a local id and no
    link of its own gets none."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return "" if is_local(arxiv_id) else f"https://arxiv.org/abs/{arxiv_id}"
