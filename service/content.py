"""From ledger rows to finished message bytes: load the papers a digest fixed at plan time,
build the views, render and compose. Used by delivery, previews and test sends alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.plan.schedule import edition_label, zone
from service.render.digest import digest_subject, paper_view, render_digest, render_notice
from service.render.views import DigestView, NoticeView, PaperCard, RenderedEmail
from service.send.compose import Envelope, compose_message
from service.store.models import Delivery, DeliveryKind, Match, Paper, Subscriber
from service.track.addresses import ascii_address
from service.track.tokens import Purpose, make_token


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


def subscriber_links(settings: Settings, subscriber: Subscriber) -> Links:
    keys = settings.secret_keys()
    unsub = make_token(keys, Purpose.unsubscribe, subscriber.id, subscriber.token_secret)
    prefs = make_token(keys, Purpose.prefs, subscriber.id, subscriber.token_secret)
    base = settings.public_base_url.rstrip("/")
    return Links(
        unsubscribe=f"{base}/unsubscribe/{unsub}",
        unsubscribe_mailto=(
            f"mailto:unsubscribe@{settings.bounce_domain or settings.mail_domain}"
            f"?subject={quote('unsubscribe ' + unsub)}"
        ),
        preferences=f"{base}/preferences/{prefs}",
    )


def paper_cards(session: Session, subscriber_id: int, paper_ids: Sequence[int]) -> list[PaperCard]:
    """Cards in the given order, each with the reasons it matched this subscriber."""
    if not paper_ids:
        return []
    papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(paper_ids)))}
    reasons = dict(
        session.execute(
            select(Match.paper_id, Match.reasons).where(
                Match.subscriber_id == subscriber_id, Match.paper_id.in_(paper_ids)
            )
        )
        .tuples()
        .all()
    )
    return [_card(papers[pid], reasons.get(pid, [])) for pid in paper_ids if pid in papers]


def _card(paper: Paper, reasons: Sequence[str]) -> PaperCard:
    affiliations = [a for author in paper.authors for a in author.get("affiliations", [])]
    return PaperCard(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        summary=paper.summary,
        authors=tuple(a["name"] for a in paper.authors),
        affiliations=tuple(affiliations),
        categories=tuple(paper.categories),
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
        hf_url=paper.hf_url,
        code_url=paper.code_url,
        organization=paper.organization,
        ai_summary=paper.ai_summary,
        upvotes=paper.upvotes,
        num_comments=paper.num_comments,
        reasons=tuple(reasons),
    )


def digest_view(
    settings: Settings,
    subscriber: Subscriber,
    for_you: Sequence[PaperCard],
    trending: Sequence[PaperCard],
    now: dt.datetime,
) -> DigestView:
    links = subscriber_links(settings, subscriber)
    ai = subscriber.summary_style == "ai"
    topics = [i.value for i in subscriber.interests][:3]
    local_day = now.astimezone(zone(subscriber.timezone)).date()
    if for_you:
        preheader = f"Top pick: {for_you[0].title}"[:140]
    elif trending:
        preheader = f"Most upvoted today: {trending[0].title}"[:140]
    else:
        preheader = "A quiet day: nothing new matched your interests."
    why = (
        f"You get this {subscriber.frequency} digest because you follow "
        + (", ".join(topics) if topics else "the trending papers")
        + f" on {settings.mail_from_name}."
    )
    return DigestView(
        subject=digest_subject(for_you, trending, local_day),
        preheader=preheader,
        edition_label=edition_label(now, subscriber.timezone),
        for_you=tuple(paper_view(c, ai) for c in for_you),
        trending=tuple(paper_view(c, ai) for c in trending),
        why_line=why,
        unsubscribe_url=links.unsubscribe,
        preferences_url=links.preferences,
        postal_address=settings.postal_address,
        sender_name=settings.mail_from_name,
    )


def render_delivery(
    session: Session,
    settings: Settings,
    delivery: Delivery,
    subscriber: Subscriber,
    now: dt.datetime,
) -> RenderedEmail:
    if delivery.kind in (DeliveryKind.digest, DeliveryKind.test):
        for_you = paper_cards(session, subscriber.id, delivery.paper_ids)
        trending = paper_cards(session, subscriber.id, delivery.trending_ids)
        return render_digest(digest_view(settings, subscriber, for_you, trending, now))
    return render_notice(delivery.kind, notice_view(settings, delivery, subscriber))


def notice_view(settings: Settings, delivery: Delivery, subscriber: Subscriber) -> NoticeView:
    links = subscriber_links(settings, subscriber)
    payload = delivery.payload
    return NoticeView(
        subject=str(payload.get("subject", "")),
        preheader=str(payload.get("preheader", "")),
        heading=str(payload.get("heading", "")),
        paragraphs=tuple(str(p) for p in payload.get("paragraphs", [])),
        action_label=str(payload.get("action_label", "")),
        action_url=str(payload.get("action_url", "")),
        unsubscribe_url=links.unsubscribe,
        preferences_url=links.preferences,
        postal_address=settings.postal_address,
        sender_name=settings.mail_from_name,
    )


def compose_for(
    settings: Settings,
    rendered: RenderedEmail,
    subscriber: Subscriber,
    message_id: str,
    now: dt.datetime,
    kind: str,
    to_address: str | None = None,
) -> Composed:
    links = subscriber_links(settings, subscriber)
    recipient = ascii_address(to_address or subscriber.email)
    envelope = Envelope(
        message_id=message_id,
        from_address=settings.mail_from,
        from_name=settings.mail_from_name,
        to_address=recipient,
        date=now,
        list_id=settings.list_identifier,
        unsubscribe_url=links.unsubscribe,
        unsubscribe_mailto=links.unsubscribe_mailto,
        feedback_id=f"{kind}:{settings.mail_domain}",
    )
    data = compose_message(rendered, envelope, text_only=subscriber.format == "text")
    return Composed(
        recipient, settings.mail_from, data, rendered.subject, rendered.text, rendered.html
    )
