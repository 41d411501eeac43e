"""The Jinja environments, with autoescape pinned: on for HTML, off for text and subjects.
(``select_autoescape()`` would not escape ``*.j2``; plain ``Environment()`` escapes nothing.)
The HTML environment inlines the mail stylesheet into each template as it loads it."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from service.render.inline import MARK_TAG, InlineCss, marked_filter
from service.render.text import wrap
from service.render.views import PaperView

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FRAGMENTS = 8192
_FRAGMENTS: dict[tuple[str, int], Markup] = {}


@lru_cache(maxsize=8)
def html_env(root: Path = TEMPLATES, inline: bool = True) -> Environment:
    """``inline=False`` gives the raw templates, for tests that inline after rendering."""
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[InlineCss] if inline else [],
        auto_reload=False,
    )
    if not inline:
        env.filters["marked"] = marked_filter(MARK_TAG)
    env.filters["shared"] = shared_filter(env)
    return env


def shared_filter(env: Environment) -> Callable[[PaperView, str], Markup]:
    """``{{ p | shared("email/_base/paper_meta.html") }}`` renders that fragment of a paper
    once per paper and process (keyed by ``PaperView.key``), so the fragment may only use the
    fields that every reader's view of the paper shares."""
    cache = _FRAGMENTS

    def shared(view: PaperView, name: str) -> Markup:
        key = (name, view.key)
        hit = cache.get(key) if view.key else None
        if hit is None:
            # Autoescaped template output: safe as markup.
            hit = Markup(env.get_template(name).render(p=view))  # noqa: S704
            if view.key:
                if len(cache) >= FRAGMENTS:
                    cache.clear()
                cache[key] = hit
        return hit

    return shared


@lru_cache(maxsize=8)
def text_env(root: Path = TEMPLATES) -> Environment:
    """Text parts and subjects. ``wrap`` wraps prose at 78 columns in Python (Jinja's own
    ``wordwrap`` builds a new wrapper per call and costs more than the rest of the part)."""
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=False,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["wrap"] = wrap
    return env
