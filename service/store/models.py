"""Typed SQLAlchemy 2.0 models: the state that matters (DESIGN.md, RELIABILITY.md section 3).

Times are stored as naive UTC and come back as aware UTC on every backend (``UTCDateTime``).
The unique constraints carry the guarantees: one digest per (subscriber, kind, edition),
one match per (subscriber, paper), one reservation per (subscriber, paper key).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
utc = Annotated[dt.datetime, mapped_column(UTCDateTime())]
utc_or_none = Annotated[dt.datetime | None, mapped_column(UTCDateTime(), nullable=True)]
str_or_none = Annotated[str | None, mapped_column(Text, nullable=True)]
json_list = Annotated[list[Any], mapped_column(JSON, default=list)]
json_dict = Annotated[dict[str, Any], mapped_column(JSON, default=dict)]
count = Annotated[int, mapped_column(Integer, default=0, server_default="0")]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SubscriberStatus(StrEnum):
    pending = "pending"
    active = "active"
    unsubscribed = "unsubscribed"
    suppressed = "suppressed"


class Frequency(StrEnum):
    daily = "daily"
    weekly = "weekly"


class InterestKind(StrEnum):
    keyword = "keyword"
    category = "category"
    author = "author"
    text = "text"


class DeliveryKind(StrEnum):
    digest = "digest"
    confirm = "confirm"
    welcome = "welcome"
    goodbye = "goodbye"
    test = "test"
    alert = "alert"
    notice = "notice"  # "already subscribed", "your preferences link": account notices


class DeliveryStatus(StrEnum):
    planned = "planned"
    sending = "sending"
    sent = "sent"
    skipped = "skipped"
    failed = "failed"


class FailureReason(StrEnum):
    bounced = "bounced"
    suppressed = "suppressed"
    policy = "policy"
    gave_up = "gave_up"
    poison = "poison"
    unsubscribed = "unsubscribed"
    missed = "missed"  # an older slot after downtime, recorded as skipped
    empty = "empty"


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[intpk]
    arxiv_id: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[json_list]  # [{"name": str, "affiliations": [str]}]
    categories: Mapped[json_list]
    primary_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    abs_url: Mapped[str_or_none]
    pdf_url: Mapped[str_or_none]
    hf_url: Mapped[str_or_none]
    code_url: Mapped[str_or_none]
    project_url: Mapped[str_or_none]
    thumbnail_url: Mapped[str_or_none]
    comment: Mapped[str_or_none]
    journal_ref: Mapped[str_or_none]
    doi: Mapped[str_or_none]
    organization: Mapped[str_or_none]
    ai_summary: Mapped[str_or_none]
    ai_keywords: Mapped[json_list]
    upvotes: Mapped[count]
    num_comments: Mapped[count]
    github_stars: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sources: Mapped[json_list]  # which sources have seen it: ["hf", "arxiv", "rss", "file"]
    source_ids: Mapped[json_dict]  # per-source identifiers (HF discussion id, RSS guid...)
    published_at: Mapped[utc_or_none]
    trending_date: Mapped[dt.date | None] = mapped_column(nullable=True)  # HF daily-papers day
    ingested_at: Mapped[utc] = mapped_column(default=utcnow)
    updated_at: Mapped[utc] = mapped_column(default=utcnow)
    # Set when inserted or when title, abstract or categories change; cleared by the match job.
    match_pending: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    enriched_at: Mapped[utc_or_none]
    enrich_attempts: Mapped[count]
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (Index("ix_papers_published_at", "published_at"),)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised form
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.pending, index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=8)
    frequency: Mapped[str] = mapped_column(String(8), default=Frequency.daily)
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday, for weekly digests
    max_papers: Mapped[int] = mapped_column(Integer, default=10)
    include_trending: Mapped[bool] = mapped_column(Boolean, default=True)
    format: Mapped[str] = mapped_column(String(8), default="html")
    summary_style: Mapped[str] = mapped_column(String(8), default="abstract")  # or "ai"
    paused_until: Mapped[utc_or_none]
    # Rotating this revokes every token issued to the subscriber.
    token_secret: Mapped[str] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)
    soft_bounces: Mapped[count]
    created_at: Mapped[utc] = mapped_column(default=utcnow)
    updated_at: Mapped[utc] = mapped_column(default=utcnow)
    confirmed_at: Mapped[utc_or_none]
    unsubscribed_at: Mapped[utc_or_none]
    last_digest_at: Mapped[utc_or_none]

    interests: Mapped[list[Interest]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Interest.id"
    )


class Interest(Base):
    __tablename__ = "interests"

    id: Mapped[intpk]
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default=InterestKind.keyword)
    value: Mapped[str] = mapped_column(Text)  # what the subscriber typed
    negated: Mapped[bool] = mapped_column(Boolean, default=False)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[utc] = mapped_column(default=utcnow)
    # New or edited interests are run against the last days of papers once.
    backfill_pending: Mapped[bool] = mapped_column(Boolean, default=True, index=True)

    subscriber: Mapped[Subscriber] = relationship(back_populates="interests")


class TextVector(Base):
    """A description's sentence vector, computed once per distinct text and model
    (service.match.semantic); many subscribers may share one description."""

    __tablename__ = "text_vectors"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # fingerprint of model + text
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[utc] = mapped_column(default=utcnow)


class Match(Base):
    """A paper matched to a subscriber: derived data, millions of rows written per run by COPY.

    Keyed by (subscriber, paper), the order digests read them in; ``delivery_id`` marks the
    match taken by a digest. No foreign keys (checking them cost more than writing the rows):
    erasing a subscriber and pruning papers delete their matches explicitly, and a pruned
    digest leaves its matches taken. Papers and old rows are found by one BRIN index (rows are
    written a run at a time, so paper ids and times follow the table's order).
    """

    __tablename__ = "matches"

    subscriber_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[json_list]
    delivery_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[utc] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_matches_paper_id_created_at", "paper_id", "created_at", postgresql_using="brin"),
    )


class Delivery(Base):
    """The outbox and the ledger: one row per mail."""

    __tablename__ = "deliveries"

    id: Mapped[intpk]
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
    )
    to_address: Mapped[str_or_none]  # for mails without a subscriber (alert, test)
    kind: Mapped[str] = mapped_column(String(16), default=DeliveryKind.digest)
    edition_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.planned)
    failure_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    attempts: Mapped[count]
    next_attempt_at: Mapped[utc] = mapped_column(default=utcnow)
    lease_until: Mapped[utc_or_none]
    claimed_at: Mapped[utc_or_none]  # the last claim: an unsubscribe committed before it wins
    enqueued_at: Mapped[utc_or_none]  # the last time a task carried this row
    last_smtp_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str_or_none]
    paper_ids: Mapped[json_list]  # the digest's matched papers, fixed at plan time, in order
    trending_ids: Mapped[json_list]  # the digest's "trending today" papers
    payload: Mapped[json_dict]  # template context of the other kinds (reason, request...)
    created_at: Mapped[utc] = mapped_column(default=utcnow)
    sent_at: Mapped[utc_or_none]

    __table_args__ = (
        UniqueConstraint("subscriber_id", "kind", "edition_key"),
        # Mails without a subscriber (operator alerts) are deduplicated by address instead.
        UniqueConstraint("kind", "edition_key", "to_address"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )


class SentPaper(Base):
    """The memory of what each subscriber got; keyed by the canonical arXiv id so it
    outlives paper retention and a re-ingested paper is not sent again."""

    __tablename__ = "sent_papers"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    arxiv_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[utc] = mapped_column(default=utcnow)


class Suppression(Base):
    """Addresses never to mail. Never pruned; an erased person is kept as a hash only."""

    __tablename__ = "suppressions"

    id: Mapped[intpk]
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str_or_none]
    reason: Mapped[str] = mapped_column(String(32))  # unsubscribe, hard_bounce, complaint...
    note: Mapped[str_or_none]
    created_at: Mapped[utc] = mapped_column(default=utcnow)


class Event(Base):
    """Every change of a subscriber's state: who, what, when, from where."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(32))  # web, one-click, cli, api, bounce, mailto
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)  # never pruned when true
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[json_dict]
    created_at: Mapped[utc] = mapped_column(default=utcnow, index=True)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(32))
    target: Mapped[str_or_none]  # date, categories or file path
    started_at: Mapped[utc] = mapped_column(default=utcnow)
    finished_at: Mapped[utc_or_none]
    fetched: Mapped[count]
    new: Mapped[count]
    updated: Mapped[count]
    skipped: Mapped[count]
    errors: Mapped[json_list]


class RateLimit(Base):
    """Fixed-window counters for the public forms when Redis is absent or down."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[utc] = mapped_column(primary_key=True)
    hits: Mapped[count]


class KeyValue(Base):
    """Small pieces of shared state: the match watermark, the sending pause."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[json_dict]
    updated_at: Mapped[utc] = mapped_column(
        default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
