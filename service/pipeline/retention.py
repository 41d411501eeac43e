"""Use case: prune old rows on a schedule, keeping what the guarantees need.

Pruned, each after its own configurable age (0 keeps a table forever): finished deliveries
(sent, skipped, failed; never a planned or sending one), events that are not consent events,
matches, and papers both published and ingested before the horizon. Never pruned: suppressions,
consent events, subscribers, and ``sent_papers``, which is keyed by arXiv id so a paper pruned and
ingested again is still never sent twice. Papers published before the horizon are not matched:
``retire_stale_papers`` clears their pending mark before each match run.

Rows go in chunks of ids, one short transaction each, so pruning never holds a long lock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.config import Settings
from service.observability.metrics import ROWS_PRUNED
from service.pipeline._types import Factory
from service.store.db import transaction
from service.store.models import Delivery, DeliveryStatus, Event, Match, Paper
from service.track.events import CONSENT_KINDS

log = logging.getLogger("paperpost.retention")
CHUNK = 2_000
FINISHED = (DeliveryStatus.sent, DeliveryStatus.skipped, DeliveryStatus.failed)


@dataclass
class RetentionReport:
    dry_run: bool = False
    horizons: dict[str, str | None] = field(default_factory=dict)
    pruned: dict[str, int] = field(default_factory=dict)
    retired_papers: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    table: str
    days: Callable[[Settings], int]
    key: InstrumentedAttribute[int]  # rows go in chunks of distinct keys
    condition: Callable[[dt.datetime], ColumnElement[bool]]
    chunk: int = CHUNK


RULES = (
    # Deliveries first: events point at them (ON DELETE SET NULL).
    Rule(
        "deliveries",
        lambda s: s.retention_deliveries_days,
        Delivery.id,
        lambda h: and_(Delivery.status.in_(FINISHED), Delivery.created_at < h),
    ),
    Rule(
        "events",
        lambda s: s.retention_events_days,
        Event.id,
        lambda h: and_(
            Event.created_at < h, Event.consent.is_(False), Event.kind.not_in(CONSENT_KINDS)
        ),
    ),
    # By paper: a chunk of papers is up to a row per subscriber each.
    Rule(
        "matches",
        lambda s: s.retention_matches_days,
        Match.paper_id,
        lambda h: Match.created_at < h,
        chunk=50,
    ),
    Rule("papers", lambda s: s.retention_papers_days, Paper.id, lambda h: _paper_is_older(h)),
)


def _paper_is_older(horizon: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Paper.ingested_at < horizon, or_(Paper.published_at.is_(None), Paper.published_at < horizon)
    )


def horizon(days: int, now: dt.datetime) -> dt.datetime | None:
    """The cut-off for an age in days; None when the table is kept forever."""
    return now - dt.timedelta(days=days) if days > 0 else None


def prune(
    factory: Factory, settings: Settings, now: dt.datetime, dry_run: bool = False
) -> RetentionReport:
    """Delete what is older than each table's retention age; ``dry_run`` only counts."""
    report = RetentionReport(dry_run=dry_run)
    for rule in RULES:
        cut = horizon(rule.days(settings), now)
        report.horizons[rule.table] = cut.isoformat() if cut else None
        if cut is None:
            report.pruned[rule.table] = 0
            continue
        where = rule.condition(cut)
        if dry_run:
            with factory() as session:
                found = session.scalar(
                    select(func.count()).select_from(rule.key.class_).where(where)
                )
            report.pruned[rule.table] = int(found or 0)
        else:
            report.pruned[rule.table] = _delete_in_chunks(factory, rule, where)
            ROWS_PRUNED.labels(rule.table).inc(report.pruned[rule.table])
    if not dry_run:
        report.retired_papers = retire_stale_papers(factory, settings, now)
    log.info("retention%s: %s", " (dry run)" if dry_run else "", report.pruned)
    return report


def _delete_in_chunks(factory: Factory, rule: Rule, where: ColumnElement[bool]) -> int:
    total = 0
    page: Select[tuple[int]] = (
        select(rule.key).where(where).distinct().order_by(rule.key).limit(rule.chunk)
    )
    while True:
        with transaction(factory) as session:
            ids = list(session.scalars(page))
            if ids:
                total += _delete(session, rule, ids, where)
        if len(ids) < rule.chunk:
            return total


def _delete(session: Session, rule: Rule, ids: list[int], where: ColumnElement[bool]) -> int:
    """Delete a chunk, counting what this run deleted, not what it selected: a concurrent
    prune may have deleted some of the same rows first."""
    statement = (
        delete(rule.key.class_)
        .where(rule.key.in_(ids), where)
        .execution_options(synchronize_session=False)
    )
    if rule.key.class_ is not Paper:
        return max(int(session.execute(statement).rowcount), 0)  # type: ignore[attr-defined]
    gone = list(session.scalars(statement.returning(Paper.id)))
    if gone:  # matches have no foreign key to cascade from their paper
        session.execute(
            delete(Match)
            .where(Match.paper_id.in_(gone))
            .execution_options(synchronize_session=False)
        )
    return len(gone)


def retire_stale_papers(factory: Factory, settings: Settings, now: dt.datetime) -> int:
    """Clear the match mark of papers published before the papers' horizon, so an old paper
    ingested again (after it was pruned, or first seen late) is not matched."""
    cut = horizon(settings.retention_papers_days, now)
    if cut is None:
        return 0
    with transaction(factory) as session:
        result = session.execute(
            update(Paper)
            .where(Paper.match_pending.is_(True), Paper.published_at < cut)
            .values(match_pending=False)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def matchable_since(settings: Settings, now: dt.datetime) -> dt.datetime | None:
    """Papers published before this are outside the horizon and are not matched."""
    return horizon(settings.retention_papers_days, now)
