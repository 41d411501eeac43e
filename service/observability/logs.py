"""Structured logging: ``log_context(delivery_id=...)`` adds fields to every record logged inside
it (so every line of a send names its delivery), and ``configure_logging(json_lines=True)``
prints one JSON object per line (``PAPERPOST_LOG_FORMAT=json``) for a log shipper; the text
format appends the same fields as ``key=value``."""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "paperpost_log_fields", default=None
)
Token = contextvars.Token[dict[str, Any] | None]


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = push_context(**fields)
    try:
        yield
    finally:
        pop_context(token)


def push_context(**fields: Any) -> Token:
    """For hooks that open and close in two calls (Celery's task_prerun and task_postrun)."""
    return _fields.set({**(_fields.get() or {}), **fields})


def pop_context(token: Token) -> None:
    try:
        _fields.reset(token)
    except ValueError:  # set in another context: forget the fields instead
        _fields.set(None)


def current_context() -> dict[str, Any]:
    return dict(_fields.get() or {})


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        fields = _fields.get() or {}
        for key, value in fields.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.context = dict(fields)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context", {}),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = getattr(record, "context", {})
        if not context:
            return line
        return line + " " + " ".join(f"{key}={value}" for key, value in context.items())


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """One handler on the root logger, on stderr; UTC timestamps in both formats."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    formatter: logging.Formatter = JsonFormatter() if json_lines else TextFormatter()
    formatter.converter = _utc
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _utc(seconds: float | None) -> Any:
    import time

    return time.gmtime(seconds)
