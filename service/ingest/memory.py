"""Bulk work allocates millions of small, acyclic objects (parsed JSON, XML elements, rows).
The cyclic garbage collector would scan the growing heap again and again while they pile up,
a third of the parse time; reference counting frees them all the same. So bulk parsing and
upserts run with the collector paused, and it resumes (and catches up) right after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
