"""The worker's logging, metrics and task hooks, connected to Celery's signals at import.

- Logging: Celery's own setup is replaced by ``configure_logging`` (PAPERPOST_LOG_FORMAT=json
  gives one JSON object per line), and every line logged inside a task carries the task's name
  and id.
- Metrics: with PAPERPOST_METRICS_PORT set, the worker's main process serves ``/metrics``: the
  sum over all pool processes (prometheus_client's multiprocess mode, switched on here before
  anything imports prometheus_client), plus a count and duration of every task.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_shutdown,
    worker_ready,
)

from service.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _enable_multiprocess_metrics(settings: Settings) -> None:
    """Must run before prometheus_client is imported: the mode is fixed at its import."""
    if not settings.metrics_port or os.environ.get(MULTIPROC_ENV):
        return
    if "prometheus_client" in sys.modules:
        return  # imported already (an embedding process): leave it as it is
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="paperpost-metrics-")


_settings = Settings()
_enable_multiprocess_metrics(_settings)

from service.observability import exporter, logs, metrics  # noqa: E402

_running: dict[str, tuple[float, logs.Token]] = {}


@setup_logging.connect
def _setup_logging(**_: Any) -> None:
    logs.configure_logging(_settings.log_level, _settings.log_format == "json")


@worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    if _settings.metrics_port:
        exporter.start_exporter(_settings.metrics_port)


@worker_process_shutdown.connect
def _forget_process(pid: int | None = None, **_: Any) -> None:
    exporter.mark_process_dead(pid or os.getpid())


@task_prerun.connect
def _task_started(task_id: str, task: Any, **_: Any) -> None:
    token = logs.push_context(task=task.name, task_id=task_id)
    _running[task_id] = (time.perf_counter(), token)


@task_postrun.connect
def _task_finished(task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
    started = _running.pop(task_id, None)
    metrics.TASKS.labels(task.name, (state or "unknown").lower()).inc()
    if started is not None:
        metrics.TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started[0])
        logs.pop_context(started[1])
