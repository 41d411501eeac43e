"""Use case: watch the delivery rates and mail the operator when one crosses its threshold.

Over the last ``alert_window_hours``: the failure rate (failed / (sent + failed)), the hard
bounce rate and the complaint rate (each / sent). Below ``alert_min_attempts`` finished sends the
rates say little, so nothing is raised. ``raise_alert`` sends each alert at most once a day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from service.config import Settings
from service.observability.metrics import ALERTS_RAISED
from service.pipeline._types import Factory
from service.store import figures
from service.store.db import transaction
from service.track.alerts import raise_alert


@dataclass
class WatchReport:
    window_hours: float
    sent: int = 0
    failed: int = 0
    bounces: int = 0
    complaints: int = 0
    failure_rate: float = 0.0
    bounce_rate: float = 0.0
    complaint_rate: float = 0.0
    alerts: list[str] = field(default_factory=list)


def check_delivery_rates(factory: Factory, settings: Settings, now: dt.datetime) -> WatchReport:
    since = now - dt.timedelta(hours=settings.alert_window_hours)
    report = WatchReport(window_hours=settings.alert_window_hours)
    with transaction(factory) as session:
        w = figures.window(session, since)
        report.sent, report.failed = w.sent, w.failed
        report.bounces, report.complaints = w.bounces, w.complaints
        report.failure_rate = w.failure_rate
        report.bounce_rate, report.complaint_rate = w.bounce_rate, w.complaint_rate
        if w.finished < settings.alert_min_attempts:
            return report
        for key, rate, limit, what in _checks(settings, w):
            if rate < limit:
                continue
            subject = f"{what} is {rate:.2%} (threshold {limit:.2%})"
            raise_alert(session, settings, now, key, subject, _lines(settings, w, what))
            ALERTS_RAISED.labels(key).inc()
            report.alerts.append(key)
    return report


def _checks(settings: Settings, w: figures.Window) -> list[tuple[str, float, float, str]]:
    return [
        ("failure_rate", w.failure_rate, settings.alert_failure_rate, "The delivery failure rate"),
        ("bounce_rate", w.bounce_rate, settings.alert_bounce_rate, "The hard bounce rate"),
        ("complaint_rate", w.complaint_rate, settings.alert_complaint_rate, "The complaint rate"),
    ]


def _lines(settings: Settings, w: figures.Window, what: str) -> list[str]:
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(w.failed_by_reason.items())) or "none"
    return [
        f"{what} over the last {settings.alert_window_hours:g} hours crossed its threshold.",
        f"Sent {w.sent}, failed {w.failed} ({reasons}), hard bounces {w.bounces}, "
        f"complaints {w.complaints}.",
        "Look at `paperpost stats` and `paperpost deliveries list --status failed` for the "
        "SMTP replies; `paperpost doctor` checks the relay login and the SPF, DKIM and DMARC "
        "records. Mailbox providers throttle or block senders above 0.3% complaints.",
    ]
