"""The stylesheet of every HTML mail, inlined once per template when Jinja loads it.

Gmail drops ``<style>`` for non-Google accounts and Outlook honours little else, so every rule
must end up in ``style`` attributes. Running css-inline on each rendered message costs more
than the rest of the render; running it on the template source gives the same attributes (the
styled elements all come from the source: values are escaped text), once per process. Jinja
syntax is swapped for placeholders the HTML parser keeps in place (statements become comments,
so a ``{% for %}`` between table rows is not moved out of the table), and swapped back after.
The stylesheet uses simple selectors only, so a template fragment inlines like the whole page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import css_inline
from jinja2 import Environment, TemplateSyntaxError
from jinja2.ext import Extension
from markupsafe import Markup, escape

from service.render.views import Segment

STYLESHEET = "email/_base/style.css"
_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"<!--PPJ(\d+)S-->|PPJ(\d+)Q")


def inline_template(source: str, css: str, name: str = "<template>") -> str:
    """``source`` with ``css`` inlined into style attributes, Jinja syntax untouched."""
    tokens: list[str] = []

    def protect(found: re.Match[str]) -> str:
        token = found.group(0)
        if token.startswith("{#"):
            return ""
        tokens.append(token)
        index = len(tokens) - 1
        return f"<!--PPJ{index}S-->" if token.startswith("{%") else f"PPJ{index}Q"

    protected = _JINJA.sub(protect, source)
    if "<html" in protected.lower():
        inliner = css_inline.CSSInliner(
            extra_css=css, keep_style_tags=False, load_remote_stylesheets=False
        )
        inlined = inliner.inline(protected)
    else:
        inlined = css_inline.inline_fragment(protected, css)
    order: list[int] = []

    def restore(found: re.Match[str]) -> str:
        index = int(found.group(1) or found.group(2))
        order.append(index)
        return tokens[index]

    restored = _PLACEHOLDER.sub(restore, inlined)
    if sorted(order) != list(range(len(tokens))) or _layout(inlined) != _layout(protected):
        raise TemplateSyntaxError(
            "inlining moved or dropped template syntax: keep {% %} between elements and "
            "{{ }} out of style attributes and out of table structure",
            lineno=1,
            name=name,
        )
    return restored


_TAG = re.compile(r"<(/?[A-Za-z][A-Za-z0-9-]*)[^<>]*>")
_IMPLIED = frozenset({"tbody", "/tbody"})  # the parser adds these to every table


def _layout(html: str) -> list[tuple[int, str, str]]:
    """Where each placeholder sits: inside which tag (an attribute), or between which two
    tags (text or a statement), in document order; attributes of one tag in index order,
    since a serializer may reorder them. If this differs after inlining, the parser moved
    template syntax (a ``{{ }}`` foster-parented out of a table)."""
    tags = [
        (m.start(), m.end(), m.group(1).lower())
        for m in _TAG.finditer(html)
        if m.group(1).lower() not in _IMPLIED
    ]
    out: list[tuple[int, str, str]] = []
    t = 0
    for found in _PLACEHOLDER.finditer(html):
        start = found.start()
        while t < len(tags) and tags[t][1] <= start:
            t += 1
        if t < len(tags) and tags[t][0] < start:
            out.append((int(found.group(1) or found.group(2)), "in", tags[t][2]))
            continue
        before = tags[t - 1][2] if t else ""
        after = tags[t][2] if t < len(tags) else ""
        out.append((int(found.group(1) or found.group(2)), before, after))
    text = [x for x in out if x[1] != "in"]
    attributes = sorted(x for x in out if x[1] == "in")
    return text + attributes


def marked_filter(open_tag: str) -> Callable[[Sequence[Segment]], Markup]:
    """The ``marked`` filter: text runs as HTML, every run escaped, matched words wrapped in
    ``open_tag`` (``<strong class="mark" ...>``). Faster than a template loop per field."""
    close = "</strong>"

    def marked(parts: Sequence[Segment]) -> Markup:
        if len(parts) == 1 and not parts[0].mark:
            return escape(parts[0].text)
        # Every run is escaped; the only markup is the fixed tag.
        return Markup(  # noqa: S704
            "".join(
                f"{open_tag}{escape(s.text)}{close}" if s.mark else str(escape(s.text))
                for s in parts
            )
        )

    return marked


MARK_TAG = '<strong class="mark">'


class InlineCss(Extension):
    """Jinja extension: inline ``templates/email/_base/style.css`` into each email template,
    and give the ``marked`` filter the inlined ``<strong class="mark">`` tag."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._css: str | None = None
        self._marked: Callable[[Sequence[Segment]], Markup] | None = None
        environment.filters["marked"] = self.marked

    def marked(self, parts: Sequence[Segment]) -> Markup:
        if self._marked is None:
            sample = css_inline.inline_fragment(f"{MARK_TAG}x</strong>", self.stylesheet())
            self._marked = marked_filter(sample[: sample.index(">x</strong>") + 1])
        return self._marked(parts)

    def stylesheet(self) -> str:
        if self._css is None:
            loader = self.environment.loader
            assert loader is not None
            self._css = loader.get_source(self.environment, STYLESHEET)[0]
        return self._css

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name and name.startswith("email/") and name.endswith(".html"):
            return inline_template(source, self.stylesheet(), name)
        return source
