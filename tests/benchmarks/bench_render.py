"""Complete digest messages per second on one core, against the plain stdlib path, same run.

    .venv/bin/python -m tests.benchmarks.bench_render [--messages N] [--json]

Each message is a 10-paper digest (7 "for you" with this subscriber's reasons, 3 trending)
drawn from the papers of the shared samples, for a different subscriber each time:

- paperpost: ``render_digest_for`` + ``compose_for`` exactly as delivery calls them: views,
  Jinja HTML (CSS inlined into the templates when they load) and text (wrapped once per
  paper), subject, signed-token links, hand-assembled MIME, the D03 header check and body
  check on every message, the full stdlib re-parse on the configured 1 % sample.
- plain: the same views (from the same warm paper cache), the same HTML template rendered
  raw and then ``css_inline.inline`` with a new inliner per message, the text part through
  Jinja's ``wordwrap``, an ``EmailMessage`` with ``set_content`` and ``add_alternative``,
  ``as_bytes`` — the way most code does it. No header check.

Rates are messages per CPU-second of the benchmark process (best of 5 passes), pinned to one
core: the development machine is shared, and time spent waiting for a core is not work.

Also reported: the paperpost path with the paper cache cleared before every message (the
first digest of an edition), the cost of the full re-parse, and DKIM signing separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import css_inline
from jinja2 import Environment

from service.config import Settings
from service.content import (
    Links,
    compose_for,
    digest_footer,
    render_digest_for,
    subscriber_links,
)
from service.render import papers
from service.render.digest import Edition, build_digest
from service.render.env import TEMPLATES, html_env
from service.render.views import DigestView, PaperCard
from service.send.compose import reparse
from service.store.models import Interest, Subscriber
from tests.render.samples import real_cards

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
DKIM_KEY = Path(__file__).resolve().parents[1] / "send" / "data" / "dkim-test-2048.pem"
PLAIN_TEXT = """{{ v.preheader }}

{{ v.footer.sender_name }} · {{ v.edition_label }}
{% for p in v.for_you %}
{{ loop.index }}. {{ p.title | wordwrap(74) | indent(4) }}
    {{ p.authors | wordwrap(74) | indent(4) }}

    {{ p.abstract | wordwrap(74) | indent(4) }}

    Why you got this: {{ p.reason | wordwrap(74) | indent(4) }}
{% for l in p.links %}    {{ l.label }}: {{ l.url }}
{% endfor %}
{% endfor %}
{% for p in v.trending %}
{{ loop.index }}. {{ p.title | wordwrap(74) | indent(4) }}
    {{ p.abstract | wordwrap(74) | indent(4) }}
{% for l in p.links %}    {{ l.label }}: {{ l.url }}
{% endfor %}
{% endfor %}
{{ v.footer.reason | wordwrap(78) }}
Unsubscribe: {{ v.footer.unsubscribe_url }}
"""


def settings(**extra: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        secret_key="bench-secret-key-that-is-long-enough-0123456789",
        mail_from="digest@paperpost.example",
        public_base_url="https://paperpost.example",
        **extra,  # type: ignore[arg-type]
    )


def workload(
    count: int, seed: int = 7
) -> list[tuple[Subscriber, list[PaperCard], list[PaperCard]]]:
    """``count`` subscribers, each with 7 matched papers (own reasons) and 3 trending."""
    pool = real_cards()
    rng = random.Random(seed)
    trending = sorted(pool, key=lambda c: -c.upvotes)[:3]
    out = []
    for i in range(count):
        picks = rng.sample([c for c in pool if c not in trending], 7)
        mine = []
        for card in picks:
            words = [w.strip(":,.()").lower() for w in card.title.split() if len(w) > 5]
            term = rng.choice(words) if words else "model"
            mine.append(replace(card, reasons=(f"“{term}” in title",)))
        subscriber = Subscriber(
            id=i + 1, email=f"reader{i}@example.org", token_secret=f"{i:032x}", timezone="UTC",
            frequency="daily", format="html", summary_style="abstract",
        )  # fmt: skip
        subscriber.interests = [Interest(value=r.reasons[0].split("”")[0][1:]) for r in mine[:3]]
        out.append((subscriber, mine, trending))
    return out


def paperpost_path(s: Settings, cold: bool = False) -> Callable[[tuple], bytes]:  # type: ignore[type-arg]
    def run(item: tuple) -> bytes:  # type: ignore[type-arg]
        subscriber, mine, trending = item
        if cold:
            papers.clear_cache()
        links = subscriber_links(s, subscriber)
        rendered = render_digest_for(s, subscriber, mine, trending, NOW, links)
        message_id = f"{subscriber.id:024x}@paperpost.example"
        return compose_for(s, rendered, subscriber, message_id, NOW, "digest").data

    return run


def plain_path(s: Settings) -> Callable[[tuple], bytes]:  # type: ignore[type-arg]
    raw_html = html_env(TEMPLATES, inline=False).get_template("email/digest/body.html")
    text_template = Environment(autoescape=False).from_string(PLAIN_TEXT)
    css = (TEMPLATES / "email" / "_base" / "style.css").read_text()

    def view_of(subscriber: Subscriber, mine: list, trending: list, links: Links) -> DigestView:  # type: ignore[type-arg]
        footer = digest_footer(s, subscriber, links)
        return build_digest(Edition(NOW.date()), mine, trending, footer)

    def run(item: tuple) -> bytes:  # type: ignore[type-arg]
        subscriber, mine, trending = item
        links = subscriber_links(s, subscriber)
        view = view_of(subscriber, mine, trending, links)
        html = css_inline.CSSInliner(extra_css=css).inline(raw_html.render(v=view))
        text = text_template.render(v=view)
        msg = EmailMessage()
        msg["From"] = Address(s.mail_from_name, addr_spec=s.mail_from)
        msg["To"] = subscriber.email
        msg["Subject"] = view.subject
        msg["Date"] = format_datetime(NOW)
        msg["Message-ID"] = f"<{subscriber.id:024x}@paperpost.example>"
        msg["List-Id"] = f"<{s.list_identifier}>"
        msg["List-Unsubscribe"] = f"<{links.unsubscribe}>, <{links.unsubscribe_mailto}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg.as_bytes(policy=policy.SMTP)

    return run


def rate(fn: Callable[[tuple], bytes], items: list, rounds: int = 5) -> float:  # type: ignore[type-arg]
    """Messages per CPU-second of this process: the best of ``rounds`` passes over ``items``.
    CPU time, not wall time, because the machine is shared: waiting for a core is not work."""
    for item in items[:20]:
        fn(item)
    results = []
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            fn(item)
        results.append(len(items) / (time.process_time() - start))
    return max(results)


def per_message_ms(fn: Callable[[], object], repeat: int = 100, rounds: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.process_time() - start) / repeat * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    s = settings()
    items = workload(args.messages)
    plain = rate(plain_path(s), items[: max(100, args.messages // 5)])
    ours = rate(paperpost_path(s), items)
    cold = rate(paperpost_path(s, cold=True), items[: max(100, args.messages // 2)])
    signed = settings(dkim_selector="bench", dkim_private_key=DKIM_KEY)
    with_dkim = rate(paperpost_path(signed), items[: max(100, args.messages // 5)])
    sample = items[0]
    rendered = render_digest_for(
        s, sample[0], sample[1], sample[2], NOW, subscriber_links(s, sample[0])
    )
    data = compose_for(
        s, rendered, sample[0], "x@paperpost.example", NOW, "digest", full_check=False
    ).data
    names = frozenset(expected_headers_of(data))
    reparse_ms = per_message_ms(lambda: reparse(data, names, rendered))
    figures = {
        "messages": args.messages,
        "plain_per_s": round(plain),
        "paperpost_per_s": round(ours),
        "speedup": round(ours / plain, 2),
        "paperpost_cold_cache_per_s": round(cold),
        "paperpost_with_dkim_per_s": round(with_dkim),
        "dkim_ms_per_message": round(1000 / with_dkim - 1000 / ours, 3),
        "full_reparse_ms": round(reparse_ms, 3),
        "message_bytes": len(data),
        "html_bytes": len(rendered.html.encode()),
    }
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:28s} {value}")


def expected_headers_of(data: bytes) -> set[str]:
    head = data.partition(b"\r\n\r\n")[0].decode("ascii")
    return {line.split(":", 1)[0].lower() for line in head.split("\r\n") if line[:1] not in " \t"}


if __name__ == "__main__":
    main()
