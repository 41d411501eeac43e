"""Serving the metrics: the exposition text for the web app's ``/metrics``, and a small HTTP
exporter for the Celery worker.

A prefork worker is several processes; each would count only its own sends. ``paperpost worker``
therefore runs Celery in prometheus_client's multiprocess mode: it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory *before* Celery starts (the mode is chosen when
prometheus_client is first imported), every pool process writes its counters there, and the
worker's main process serves their sum on ``PAPERPOST_METRICS_PORT``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)
from prometheus_client.registry import Collector

log = logging.getLogger("paperpost.metrics")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


def fresh_multiprocess_dir(prefix: str = "paperpost-metrics-") -> str:
    """A new, empty directory for one worker's processes (stale files would add old counts)."""
    return tempfile.mkdtemp(prefix=prefix)


def process_registry() -> CollectorRegistry:
    """This process's metrics, or the sum over every process sharing the multiprocess dir."""
    if multiprocess_dir() is None:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The body and content type of a scrape: this process (or its siblings) plus ``extra``."""
    body = generate_latest(process_registry())
    collectors = list(extra)
    if collectors:
        registry = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            registry.register(collector)
        body += generate_latest(registry)
    return body, CONTENT_TYPE_LATEST


def start_exporter(port: int, addr: str = "0.0.0.0") -> bool:  # noqa: S104 - scraped from outside
    """Serve this process's metrics (summed over the multiprocess dir) on a port; False when
    the port is taken, which must not stop the worker."""
    try:
        start_http_server(port, addr=addr, registry=process_registry())
    except OSError as exc:
        log.warning("worker metrics not served on port %s: %s", port, exc)
        return False
    log.info("worker metrics on http://%s:%s/metrics", addr, port)
    return True


def mark_process_dead(pid: int) -> None:
    """Called when a pool process exits, so its live gauges stop counting."""
    if multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_dir(path: str | Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
