"""What interests would have matched over the last days: for ``paperpost match test`` and the
web form's live preview. Same matching function, normalisation and threshold as the beat job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.config import Settings
from service.match.engine import match_papers
from service.match.query import parse_interest
from service.match.score import MatchConfig, config_from
from service.match.semantic import Encoder, load_encoder
from service.match.types import InterestSpec, PaperDoc
from service.store import matching


@dataclass(frozen=True, slots=True)
class PreviewHit:
    arxiv_id: str
    title: str
    abs_url: str | None
    score: float
    reasons: tuple[str, ...]


def preview_interests(
    session: Session,
    settings: Settings,
    interests: Sequence[str],
    now: dt.datetime,
    limit: int = 10,
    days: int | None = None,
) -> list[PreviewHit]:
    """The papers of the last ``days`` (the match window) these interests would get, best
    first. Raises InterestSyntaxError for an interest that does not parse."""
    texts = [parse_interest(text).text for text in interests]
    papers = matching.paper_docs(session, matching.in_window(*window(settings, now, days)))
    encoder = load_encoder(settings.match_semantic) if describes(texts) else None
    return rank_papers(papers, texts, now=now, config=config_from(settings), encoder=encoder)[
        :limit
    ]


def window(
    settings: Settings, now: dt.datetime, days: int | None = None
) -> tuple[dt.datetime, dt.datetime | None]:
    """(since, horizon) of the papers a preview ranks: the last ``days`` (the match window by
    default), none published before the papers' retention age."""
    since = now - dt.timedelta(days=days if days is not None else settings.match_window_days)
    days_kept = settings.retention_papers_days
    return since, now - dt.timedelta(days=days_kept) if days_kept > 0 else None


def rank_papers(
    papers: Sequence[PaperDoc],
    interests: Sequence[str],
    *,
    now: dt.datetime,
    config: MatchConfig,
    encoder: Encoder | None,
) -> list[PreviewHit]:
    """Every paper one subscriber holding ``interests`` would be matched, best first."""
    specs = [InterestSpec(number, 0, text) for number, text in enumerate(interests)]
    found = match_papers(papers, specs, now=now, config=config, encoder=encoder)
    by_id = {p.id: p for p in papers}
    found.sort(key=lambda m: (-m.score, m.paper_id))
    return [
        PreviewHit(
            by_id[m.paper_id].arxiv_id,
            by_id[m.paper_id].title,
            by_id[m.paper_id].abs_url,
            round(m.score, 4),
            m.reasons,
        )
        for m in found
    ]


def describes(texts: Sequence[str]) -> bool:
    """Whether the preview needs the sentence encoder: for descriptions, which are embedded
    with the papers that have no stored vector yet. Keyword phrases use only the vectors the
    match job stored (see ``related``), so previewing them never embeds the window."""
    return any(parse_interest(text).kind == "text" for text in texts)
