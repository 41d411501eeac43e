"""The stylesheet inlined once per template gives exactly what css-inline gives on each
rendered message; template syntax survives it; autoescape is pinned (B34)."""

from __future__ import annotations

from html.parser import HTMLParser

import css_inline
import pytest
from jinja2 import DictLoader, Environment, TemplateSyntaxError

from service.render.digest import render_notice
from service.render.env import TEMPLATES, html_env, text_env
from service.render.inline import InlineCss, inline_template
from service.render.views import NoticeView
from tests.render.samples import FOOTER, MAILTO, digest_message, real_cards, with_reasons

CSS = (TEMPLATES / "email" / "_base" / "style.css").read_text()
KINDS = ("confirm", "welcome", "goodbye", "notice", "alert")


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = {
            tuple(part.strip() for part in decl.split(":", 1))
            for decl in (dict(attrs).get("style") or "").split(";")
            if decl.strip()
        }
        rest = sorted((k, v or "") for k, v in attrs if k != "style")
        self.items.append(("start", tag, repr(rest), repr(sorted(style))))

    def handle_endtag(self, tag: str) -> None:
        self.items.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.items.append(("text", " ".join(data.split())))


def tree(html: str) -> list[tuple[str, ...]]:
    parser = _Tree()
    parser.feed(html)
    return parser.items


def render_raw(name: str, context: dict[str, object]) -> str:
    raw = html_env(TEMPLATES, inline=False).get_template(name).render(context)
    return css_inline.CSSInliner(extra_css=CSS, keep_style_tags=False).inline(raw)


def notice(kind: str) -> NoticeView:
    return NoticeView(
        subject=f"A {kind} mail", preheader="Preheader", heading="Heading",
        paragraphs=("First paragraph.", "Second <b>one</b>."), action_label="Do it",
        action_url="https://paperpost.example/confirm/tok", unsubscribe_url=FOOTER.unsubscribe_url,
        preferences_url=FOOTER.preferences_url, postal_address=FOOTER.postal_address,
        sender_name="paperpost", reason="Because.",
    )  # fmt: skip


def test_digest_inlined_at_load_equals_inlined_per_message() -> None:
    cards = with_reasons(real_cards())
    _, rendered = digest_message(cards[:6], cards[6:9])
    from service.render.digest import build_digest
    from tests.render.samples import EDITION

    view = build_digest(EDITION, cards[:6], cards[6:9], FOOTER)
    assert tree(rendered.html) == tree(render_raw("email/digest/body.html", {"v": view}))
    assert 'style="' in rendered.html and "<style" not in rendered.html


@pytest.mark.parametrize("kind", KINDS)
def test_notices_inlined_at_load_equal_inlined_per_message(kind: str) -> None:
    view = notice(kind)
    rendered = render_notice(kind, view, MAILTO)
    assert tree(rendered.html) == tree(render_raw(f"email/{kind}/body.html", {"v": view}))
    assert "Second &lt;b&gt;one&lt;/b&gt;." in rendered.html  # autoescaped


def test_template_syntax_that_the_parser_would_move_is_refused() -> None:
    assert "{{ x }}" in inline_template('<p class="a">{{ x }}</p>', ".a { color: #000000; }")
    with pytest.raises(TemplateSyntaxError):
        inline_template("<table>{{ row }}<tr><td>x</td></tr></table>", "td { color: #000000; }")
    with pytest.raises(TemplateSyntaxError):
        inline_template("<table>{% for r in rows %}<td>x</td>{% endfor %}</table>", "")
    kept = inline_template('<table><tr><td dir="{{ d }}" class="{{ c }}">x</td></tr></table>', "")
    assert 'dir="{{ d }}"' in kept and 'class="{{ c }}"' in kept


def test_autoescape_is_pinned_on_for_html_and_off_for_text() -> None:
    html = html_env().from_string("{{ x }}").render(x="<b>&</b>")
    text = text_env().from_string("{{ x }}").render(x="<b>&</b>")
    assert html == "&lt;b&gt;&amp;&lt;/b&gt;" and text == "<b>&</b>"
    env = Environment(loader=DictLoader({"email/x.html": "<p>{{ x }}</p>"}), extensions=[InlineCss])
    with pytest.raises(Exception):  # noqa: B017  (no stylesheet in this loader)
        env.get_template("email/x.html")
