"""Prometheus metrics recorded by the stages. Counters in code; gauges that describe stored state
(deliveries by status, queue depth) are computed from the database at scrape time."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PAPERS_INGESTED = Counter(
    "paperpost_papers_ingested_total", "Papers stored by ingest runs.", ["source", "result"]
)
INGEST_ERRORS = Counter("paperpost_ingest_errors_total", "Items or runs that failed.", ["source"])
MATCHES_WRITTEN = Counter("paperpost_matches_total", "(subscriber, paper) matches written.")
DELIVERIES_PLANNED = Counter("paperpost_deliveries_planned_total", "Digests planned.")
SMTP_REPLIES = Counter(
    "paperpost_smtp_replies_total",
    "Send attempts by outcome class (sent, transient, bounced, policy, ambiguous, rejected).",
    ["outcome"],
)
SEND_SECONDS = Histogram(
    "paperpost_send_seconds",
    "Time from claim to the server's reply, per message.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS = Counter("paperpost_events_total", "Subscriber events by kind.", ["kind"])

# Operations: tasks, retention, operator alerts. Gauges of stored state are in gauges.py.
TASKS = Counter(
    "paperpost_tasks_total", "Celery tasks run, by task and outcome.", ["task", "outcome"]
)
TASK_SECONDS = Histogram(
    "paperpost_task_seconds",
    "Run time of Celery tasks.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ROWS_PRUNED = Counter("paperpost_rows_pruned_total", "Rows deleted by retention.", ["table"])
ALERTS_RAISED = Counter("paperpost_alerts_total", "Operator alerts raised, by key.", ["key"])
