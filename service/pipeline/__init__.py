"""The use cases: ingest, match, plan, deliver. Each is a short composition of the stages.

Entry points (CLI, Celery tasks, web) build the session factory, the mailer and the clock and
pass them in; nothing here reads the real clock or opens SMTP on its own.
"""

from service.pipeline._types import Clock, Factory
from service.pipeline.deliver import DeliverReport, backoff, deliver_batch, sweep_due
from service.pipeline.enrich import EnrichReport, enrich_papers
from service.pipeline.feedback import FeedbackReport, apply_feedback, process_bounces
from service.pipeline.ingest import (
    IngestReport,
    ingest_arxiv,
    ingest_file,
    ingest_hf,
    ingest_parsed,
    ingest_path,
    ingest_rss,
)
from service.pipeline.ingest_runs import (
    RunView,
    check_new_papers,
    ingest_configured,
    ingest_source,
    recent_runs,
)
from service.pipeline.match import MatchReport, match_new_papers
from service.pipeline.plan import PlanReport, plan_editions
from service.pipeline.retention import RetentionReport, prune, retire_stale_papers
from service.pipeline.watch import WatchReport, check_delivery_rates

__all__ = [
    "Clock",
    "DeliverReport",
    "EnrichReport",
    "Factory",
    "FeedbackReport",
    "IngestReport",
    "MatchReport",
    "PlanReport",
    "RetentionReport",
    "RunView",
    "WatchReport",
    "apply_feedback",
    "backoff",
    "check_delivery_rates",
    "check_new_papers",
    "deliver_batch",
    "enrich_papers",
    "ingest_arxiv",
    "ingest_configured",
    "ingest_file",
    "ingest_hf",
    "ingest_parsed",
    "ingest_path",
    "ingest_rss",
    "ingest_source",
    "match_new_papers",
    "plan_editions",
    "process_bounces",
    "prune",
    "recent_runs",
    "retire_stale_papers",
    "sweep_due",
]
