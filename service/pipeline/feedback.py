"""Use case: apply bounce and complaint feedback, from a mailbox of reports or from a webhook."""

from __future__ import annotations

import datetime as dt
import email
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from service.config import Settings
from service.pipeline._types import Factory
from service.store.db import transaction
from service.track.bounces import FeedbackEvent, apply_event
from service.track.mailbox import Source
from service.track.reports import parse_report
from service.track.subscription import UnsubscribeOutcome, process_mailto_unsubscribe

log = logging.getLogger("paperpost.feedback")


@dataclass
class FeedbackReport:
    messages: int = 0
    not_reports: int = 0
    unsubscribed: int = 0  # mails to the List-Unsubscribe mailto address
    events: int = 0
    duplicates: int = 0
    suppressed: int = 0
    unknown: int = 0

    def count(self, outcome: str) -> None:
        self.events += 1
        if outcome == "duplicate":
            self.duplicates += 1
        elif outcome == "suppressed":
            self.suppressed += 1
        elif outcome == "unknown":
            self.unknown += 1


def apply_feedback(
    factory: Factory, settings: Settings, events: Iterable[FeedbackEvent], now: dt.datetime
) -> FeedbackReport:
    """Apply events in one transaction; a replayed event changes nothing."""
    report = FeedbackReport()
    with transaction(factory) as session:
        for event in events:
            report.count(apply_event(session, settings, event, now))
    return report


def _mailto_unsubscribe(
    factory: Factory, settings: Settings, data: bytes, now: dt.datetime
) -> bool:
    """A mail sent to the List-Unsubscribe ``mailto:`` address, with its token."""
    message = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage):
        return False
    with transaction(factory) as session:
        outcome = process_mailto_unsubscribe(session, settings, message, now)
    return outcome is not UnsubscribeOutcome.invalid


def process_bounces(
    factory: Factory, settings: Settings, source: Source, now: dt.datetime, limit: int = 10_000
) -> FeedbackReport:
    """Read up to ``limit`` messages, apply each one's events and mark it processed once its
    transaction committed (a crash re-reads it; the event ids make that harmless)."""
    report = FeedbackReport()
    for incoming in source.messages():
        if report.messages >= limit:
            break
        report.messages += 1
        events = parse_report(incoming.data, settings)
        if events:
            one = apply_feedback(factory, settings, events, now)
            for name in ("events", "duplicates", "suppressed", "unknown"):
                setattr(report, name, getattr(report, name) + getattr(one, name))
        elif _mailto_unsubscribe(factory, settings, incoming.data, now):
            report.unsubscribed += 1
        else:
            report.not_reports += 1
            log.info("mailbox message %s is not a bounce, complaint or unsubscribe", incoming.key)
        source.done(incoming.key)
    return report
