"""From ledger rows to finished message bytes: load the papers a digest fixed at plan time,
build the views, render, compose, sign and check. Used by delivery, previews and test sends.

Mails without a subscriber (operator alerts, test sends to any address) are transactional:
no unsubscribe link, so no List-* headers, and the header check expects exactly that set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.plan.schedule import zone
from service.render.checks import html_problems
from service.render.digest import Edition, build_digest, render_digest, render_notice
from service.render.links import own_url
from service.render.text import one_line
from service.render.views import Footer, NoticeView, PaperCard, RenderedEmail
from service.send.compose import Envelope, HeaderCheckError, compose_message
from service.send.dkim import load_key, sign
from service.store.models import Delivery, DeliveryKind, Match, Paper, Subscriber
from service.track.addresses import ascii_address
from service.track.tokens import Purpose, make_token

LIST_KINDS = frozenset({DeliveryKind.digest, DeliveryKind.welcome, DeliveryKind.test})
NOTICE_DEFAULTS: dict[str, tuple[str, str]] = {  # subject/heading, footer reason
    "confirm": (
        "Confirm your subscription",
        "You get this mail because this address was entered on the {name} sign-up page. If "
        "that was not you, ignore it: nothing more is sent unless the link is used.",
    ),
    "welcome": (
        "Welcome to {name}",
        "You get this mail because you confirmed a subscription to {name}.",
    ),
    "goodbye": (
        "You are unsubscribed",
        "You get this mail to confirm that this address was unsubscribed from {name}. "
        "No digests will follow.",
    ),
    "notice": (
        "About your {name} subscription",
        "You get this mail because of a request made for this address on {name}.",
    ),
    "alert": (
        "{name} needs attention",
        "You get this alert because PAPERPOST_ADMIN_EMAIL names this address as the operator "
        "of {name}.",
    ),
    "test": (
        "Test message from {name}",
        "This is a test message sent by the operator of {name}.",
    ),
}


@dataclass(frozen=True, slots=True)
class Composed:
    recipient: str
    sender: str
    data: bytes
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Links:
    unsubscribe: str
    unsubscribe_mailto: str
    preferences: str


def subscriber_links(
    settings: Settings, subscriber: Subscriber, issued_at: dt.datetime | None = None
) -> Links:
    """``issued_at`` dates the preferences link: a digest passes its row's creation time, so
    every attempt at it renders the same bytes."""
    keys = settings.secret_keys()
    unsub = make_token(keys, Purpose.unsubscribe, subscriber.id, subscriber.token_secret)
    when = None if issued_at is None else issued_at.replace(tzinfo=issued_at.tzinfo or dt.UTC)
    prefs = make_token(
        keys, Purpose.prefs, subscriber.id, subscriber.token_secret,
        issued_at=None if when is None else int(when.timestamp()),
    )  # fmt: skip
    base = settings.public_base_url.rstrip("/")
    return Links(
        unsubscribe=f"{base}/unsubscribe/{unsub}",
        unsubscribe_mailto=(
            f"mailto:unsubscribe@{settings.bounce_domain or settings.mail_domain}"
            f"?subject={quote('unsubscribe ' + unsub)}"
        ),
        preferences=f"{base}/preferences/{prefs}",
    )


def paper_cards(
    session: Session, subscriber_id: int | None, paper_ids: Sequence[int]
) -> list[PaperCard]:
    """Cards in the given order, each with the reasons it matched this subscriber."""
    if not paper_ids:
        return []
    papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(paper_ids)))}
    reasons: dict[int, list[str]] = {}
    if subscriber_id is not None:
        rows = session.execute(
            select(Match.paper_id, Match.reasons).where(
                Match.subscriber_id == subscriber_id, Match.paper_id.in_(paper_ids)
            )
        )
        reasons = dict(rows.tuples().all())
    return [card_of(papers[pid], reasons.get(pid, [])) for pid in paper_ids if pid in papers]


def card_of(paper: Paper, reasons: Sequence[str] = ()) -> PaperCard:
    authors = [a for a in paper.authors if isinstance(a, dict)]
    affiliations = [
        str(aff) for a in authors for aff in (a.get("affiliations") or []) if isinstance(aff, str)
    ]
    return PaperCard(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        summary=paper.summary or "",
        authors=tuple(str(a.get("name", "")) for a in authors),
        affiliations=tuple(affiliations),
        categories=tuple(str(c) for c in paper.categories),
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
        hf_url=paper.hf_url,
        code_url=paper.code_url,
        organization=paper.organization,
        ai_summary=paper.ai_summary,
        upvotes=paper.upvotes or 0,
        num_comments=paper.num_comments or 0,
        reasons=tuple(str(r) for r in reasons),
    )


def _interest_topics(subscriber: Subscriber) -> str:
    values = [one_line(i.value, 40) for i in subscriber.interests if not i.negated][:4]
    values = [v for v in values if v]
    if not values:
        return "the papers trending on Hugging Face"
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _postal(settings: Settings) -> str:
    return " · ".join(x for x in (settings.postal_address, settings.footer_note) if x)


def digest_footer(settings: Settings, subscriber: Subscriber, links: Links) -> Footer:
    reason = (
        f"You get this {subscriber.frequency} digest from {settings.mail_from_name} because you "
        f"follow {_interest_topics(subscriber)}."
    )
    return Footer(
        reason, links.preferences, links.unsubscribe, _postal(settings), settings.mail_from_name
    )


def render_digest_for(
    settings: Settings,
    subscriber: Subscriber,
    for_you: Sequence[PaperCard],
    trending: Sequence[PaperCard],
    now: dt.datetime,
    links: Links,
) -> RenderedEmail:
    local_day = now.astimezone(zone(subscriber.timezone)).date()
    view = build_digest(
        Edition(local_day, weekly=subscriber.frequency == "weekly"),
        for_you,
        trending,
        digest_footer(settings, subscriber, links),
        use_ai=subscriber.summary_style == "ai",
        hosts=settings.link_hosts,
    )
    return render_digest(view, links.unsubscribe_mailto)


def render_delivery(
    session: Session,
    settings: Settings,
    delivery: Delivery,
    subscriber: Subscriber | None,
    now: dt.datetime,
) -> RenderedEmail:
    """The rendered mail of one outbox row, from what the row fixed (papers, payload)."""
    kind = str(delivery.kind)
    is_digest = kind == DeliveryKind.digest or (kind == DeliveryKind.test and not delivery.payload)
    if is_digest and subscriber is not None:
        links = subscriber_links(settings, subscriber, delivery.created_at)
        for_you = paper_cards(session, subscriber.id, delivery.paper_ids)
        trending = paper_cards(session, subscriber.id, delivery.trending_ids)
        return render_digest_for(settings, subscriber, for_you, trending, now, links)
    name = kind if kind in NOTICE_DEFAULTS and kind != "test" else "notice"
    account = subscriber_links(settings, subscriber) if subscriber is not None else None
    view = notice_view(settings, delivery, subscriber, account)
    return render_notice(name, view, account.unsubscribe_mailto if account else "")


def notice_view(
    settings: Settings,
    delivery: Delivery,
    subscriber: Subscriber | None,
    links: Links | None = None,
) -> NoticeView:
    """Payload keys: subject, preheader, heading, paragraphs, action_label, action_url."""
    kind = str(delivery.kind)
    name = settings.mail_from_name
    default_subject, reason = NOTICE_DEFAULTS.get(kind, NOTICE_DEFAULTS["notice"])
    payload = delivery.payload or {}
    subject = one_line(str(payload.get("subject") or ""), 150) or default_subject.format(name=name)
    heading = one_line(str(payload.get("heading") or ""), 200) or subject
    paragraphs = payload.get("paragraphs") or []
    if not isinstance(paragraphs, list):
        paragraphs = [paragraphs]
    action_url = own_url(str(payload.get("action_url") or ""), settings.public_base_url)
    if links is None and subscriber is not None:
        links = subscriber_links(settings, subscriber)
    listed = links is not None and kind in LIST_KINDS
    return NoticeView(
        subject=subject,
        preheader=one_line(str(payload.get("preheader") or ""), 150) or heading,
        heading=heading,
        paragraphs=tuple(p for p in (one_line(str(x), 2000) for x in paragraphs[:20]) if p),
        action_label=one_line(str(payload.get("action_label") or ""), 60) or "Open",
        action_url=action_url,
        unsubscribe_url=links.unsubscribe if listed and links else "",
        preferences_url=links.preferences if links and kind != "goodbye" else "",
        postal_address=_postal(settings),
        sender_name=name,
        reason=reason.format(name=name),
    )


def _sampled(message_id: str, rate: float) -> bool:
    """About ``rate`` of all messages, decided by the Message-ID so a retry decides alike."""
    if rate <= 0:
        return False
    digest = hashlib.blake2b(message_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") < rate * 2**32


def _signer(settings: Settings) -> Callable[[bytes], bytes] | None:
    if not (settings.dkim_selector and settings.dkim_private_key):
        return None
    domain = settings.dkim_domain or settings.mail_domain
    key = load_key(settings.dkim_selector, domain, settings.dkim_private_key)
    return lambda raw: sign(raw, key)


def compose_for(
    settings: Settings,
    rendered: RenderedEmail,
    subscriber: Subscriber | None,
    message_id: str,
    now: dt.datetime,
    kind: str,
    to_address: str | None = None,
    *,
    full_check: bool | None = None,
) -> Composed:
    """The checked (and, when configured, signed) bytes of ``rendered`` for one recipient."""
    address = to_address or (subscriber.email if subscriber is not None else "")
    recipient = ascii_address(address)
    listed = bool(rendered.unsubscribe_url) and subscriber is not None
    envelope = Envelope(
        message_id=message_id,
        from_address=settings.mail_from,
        from_name=settings.mail_from_name,
        to_address=recipient,
        date=now,
        list_id=settings.list_identifier if listed else "",
        unsubscribe_url=rendered.unsubscribe_url if listed else "",
        unsubscribe_mailto=rendered.unsubscribe_mailto if listed else "",
        feedback_id=f"{kind}:{settings.mail_domain}",
    )
    signer = _signer(settings)
    check = _sampled(message_id, settings.reparse_sample) if full_check is None else full_check
    text_only = subscriber is not None and subscriber.format == "text"
    if check and not text_only:
        problems = html_problems(rendered.html, settings.public_base_url, settings.link_hosts)
        if problems:
            raise HeaderCheckError("HTML part: " + "; ".join(problems[:5]))
    data = compose_message(rendered, envelope, text_only, signer=signer, full_check=check)
    return Composed(
        recipient, settings.mail_from, data, rendered.subject, rendered.text, rendered.html
    )
