"""The use cases: ingest, match, plan, deliver. Each is a short composition of the stages.

Entry points (CLI, Celery tasks, web) build the session factory, the mailer and the clock and
pass them in; nothing here reads the real clock or opens SMTP on its own.
"""

from service.pipeline._types import Clock, Factory
from service.pipeline.deliver import DeliverReport, backoff, deliver_batch, sweep_due
from service.pipeline.ingest import IngestReport, ingest_file, ingest_parsed
from service.pipeline.match import MatchReport, match_new_papers
from service.pipeline.plan import PlanReport, plan_editions

__all__ = [
    "Clock",
    "DeliverReport",
    "Factory",
    "IngestReport",
    "MatchReport",
    "PlanReport",
    "backoff",
    "deliver_batch",
    "ingest_file",
    "ingest_parsed",
    "match_new_papers",
    "plan_editions",
    "sweep_due",
]
