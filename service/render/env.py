"""The two Jinja environments, with autoescape pinned: on for HTML, off for text and subjects.
(``select_autoescape()`` would not escape ``*.j2``; plain ``Environment()`` escapes nothing.)"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=4)
def html_env(root: Path = TEMPLATES) -> Environment:
    return Environment(
        loader=FileSystemLoader(root),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=4)
def text_env(root: Path = TEMPLATES) -> Environment:
    return Environment(
        loader=FileSystemLoader(root),
        autoescape=False,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
