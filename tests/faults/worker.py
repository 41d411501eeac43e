"""Celery entry point of the fault tests: the production app and tasks, plus test-only hooks
that exist only here, never in production code paths.

- ``PAPERPOST_CRASH_AT=C1|C2|C3``: SIGKILL this process at that point of a send (C1 after the
  claim, C2 after the 250 and before the commit, C3 after the commit), after
  ``PAPERPOST_CRASH_AFTER`` passes, once per token file in ``PAPERPOST_CRASH_TOKENS``.
- ``PAPERPOST_POISON_RCPT``: rendering raises for this recipient, always.
- ``PAPERPOST_FAULT_BEAT``: ``sweep`` (default) or ``plan`` (plan and sweep) entries only.
- ``PAPERPOST_FAULT_REJECT_ON_LOST=0``: the negative control of F02.
"""

from __future__ import annotations

import functools
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import workers.tasks
from service import pipeline
from service.config import Settings
from service.pipeline import prepare as deliver_module
from workers.app import app

__all__ = ["app"]

_settings = Settings()
_passes = 0


def _crash(point: str) -> None:
    global _passes
    if point != os.environ.get("PAPERPOST_CRASH_AT"):
        return
    _passes += 1
    if _passes < int(os.environ.get("PAPERPOST_CRASH_AFTER", "1")):
        return
    tokens = Path(os.environ["PAPERPOST_CRASH_TOKENS"])
    for token in sorted(tokens.glob("token-*")):
        try:
            token.rename(token.with_name("taken-" + token.name))
        except FileNotFoundError:
            continue  # another process took it
        os.kill(os.getpid(), signal.SIGKILL)


if os.environ.get("PAPERPOST_CRASH_AT"):
    pipeline.deliver_batch = functools.partial(pipeline.deliver_batch, checkpoint=_crash)  # type: ignore[assignment]

_poison = os.environ.get("PAPERPOST_POISON_RCPT")
if _poison:
    _real_render = deliver_module.render_row

    def _render(session: Any, settings: Any, row: Any, papers: Any, now: Any) -> Any:
        if row.address == _poison:
            raise RuntimeError("this digest cannot be rendered")
        return _real_render(session, settings, row, papers, now)

    deliver_module.render_row = _render

if os.environ.get("PAPERPOST_FAULT_REJECT_ON_LOST") == "0":
    app.conf.task_reject_on_worker_lost = False
    workers.tasks.deliver_batch.reject_on_worker_lost = False

_sweep = {"task": "paperpost.sweep_due",
          "schedule": timedelta(seconds=_settings.sweep_interval_seconds)}  # fmt: skip
_plan = {"task": "paperpost.plan_editions",
         "schedule": timedelta(seconds=_settings.plan_interval_seconds)}  # fmt: skip
app.conf.beat_schedule = (
    {"sweep": _sweep, "plan": _plan}
    if os.environ.get("PAPERPOST_FAULT_BEAT") == "plan"
    else {"sweep": _sweep}
)
