"""Settings, read once by each entry point and passed down (never a module global).

Every setting is an environment variable with the prefix ``PAPERPOST_`` (or a line in ``.env``).
``deploy/env.example`` lists them all with their defaults.
"""

from __future__ import annotations

import ipaddress
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Env(StrEnum):
    development = "development"
    production = "production"


class SmtpTls(StrEnum):
    none = "none"
    starttls = "starttls"
    implicit = "implicit"


# RELIABILITY.md section 4: the production ratios, shrunk so the fault tests fit CI.
SCALED_PROFILE: dict[str, float] = {
    "task_time_limit": 6.0,
    "task_soft_time_limit": 5.0,
    "batch_deadline_seconds": 4.0,
    "smtp_timeout": 1.0,
    "visibility_timeout": 60.0,
    "lease_seconds": 3.0,
    "retry_base_seconds": 0.5,
    "retry_cap_seconds": 8.0,
    "sweep_interval_seconds": 2.0,
    "plan_interval_seconds": 2.0,
    "redbeat_lock_timeout": 10.0,
}


class ConfigError(ValueError):
    """A setting that cannot work; the message says which and what to do."""


def _is_loopback(host: str) -> bool:
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _development_secret(path: Path) -> str:
    """A random key kept under var/, so every local process signs with the same one."""
    try:
        return path.read_text().strip() or _write_secret(path)
    except FileNotFoundError:
        return _write_secret(path)


def _write_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PAPERPOST_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Env = Env.development
    database_url: str = f"sqlite:///{VAR_DIR}/paperpost.sqlite"
    broker_url: str = f"sqla+sqlite:///{VAR_DIR}/broker.sqlite"
    redis_url: str | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: SmtpTls = SmtpTls.none
    smtp_timeout: float = 30.0
    smtp_ca_file: Path | None = None  # PEM CAs to trust for the relay; unset: the system's

    mail_from: str = "paperpost@localhost"
    mail_from_name: str = "paperpost"
    postal_address: str = "paperpost, a self-hosted paper digest"
    admin_email: str | None = None  # operator alerts go here
    list_id: str | None = None
    bounce_domain: str | None = None

    # Mail content and signing (templates/email, service/send/dkim.py).
    footer_note: str = ""  # an extra line in every mail footer, e.g. who runs this instance
    link_hosts: list[str] = Field(default_factory=list)  # more hosts paper links may point to
    dkim_selector: str | None = None
    dkim_domain: str | None = None  # defaults to the From domain (DMARC alignment)
    dkim_private_key: Path | None = None  # RSA PEM; unset means unsigned (a relay may sign)
    reparse_sample: float = Field(default=0.01, ge=0.0, le=1.0)  # sends fully re-parsed (D03)

    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    old_secret_keys: list[str] = Field(default_factory=list)

    batch_size: int = Field(default=200, ge=1, le=10_000)
    lease_seconds: float = 60.0
    max_attempts: int = 8
    max_papers: int = 10
    trending_papers: int = 3
    skip_empty_digests: bool = True

    # Delivery engine (RELIABILITY.md 3.8). PAPERPOST_TIMING_PROFILE=scaled shrinks every
    # timing below to the fault-test profile of RELIABILITY.md section 4, same ratios.
    timing_profile: Literal["production", "scaled"] = "production"
    task_time_limit: float = 120.0
    task_soft_time_limit: float = 90.0
    batch_deadline_seconds: float = 80.0
    visibility_timeout: float = 1800.0
    sweep_interval_seconds: float = 20.0
    plan_interval_seconds: float = 180.0
    retry_base_seconds: float = 60.0
    retry_cap_seconds: float = 1800.0
    give_up_hours: float = 24.0
    poison_attempts: int = 3
    # Reused SMTP connections per worker process; also the most accepted-but-unrecorded
    # messages a crash of that process can leave (each waits for its `sent` commit).
    smtp_pool_size: int = Field(default=4, ge=1, le=16)
    rate_limit_per_second: float = 0.0  # all workers together; 0 = no limit
    domain_rate_limit_per_second: float = 0.0  # per recipient domain; 0 = no limit
    domain_rate_limits: dict[str, float] = Field(default_factory=dict)  # {"gmail.com": 20}
    policy_pause_after: int = 20  # consecutive 5.7.x refusals before sending pauses
    complaint_pause_rate: float = 0.003  # an edition's complaints / sent
    complaint_min_sample: int = 1000  # the rate's denominator is at least this
    soft_bounce_limit: int = 5  # suppress after more than this many soft bounces
    daily_send_cap: int = 0  # messages per UTC day, for a new domain's warm-up; 0 = no cap
    catch_up_slots: int = 14  # how far back missed editions are recorded as skipped
    plan_page_size: int = Field(default=1000, ge=1, le=5000)  # subscribers per plan transaction
    # PostgreSQL: false commits each "sent" without waiting for the WAL flush (about 10x faster
    # on a slow disk); a database *server* crash may then re-send the last ~0.6 s of messages,
    # with their Message-IDs. A worker crash is unaffected either way. Durable by default: the
    # only duplicate window is then a worker crash, at most `smtp_pool_size` messages.
    sent_commit_durable: bool = True
    bounce_mailbox: str | None = None  # a Maildir path, or imaps://user:pass@host/INBOX, pop3s://
    webhook_secret: str | None = None  # HMAC key of the generic bounce webhook
    sns_topic_arns: list[str] = Field(default_factory=list)  # SES/SNS topics we accept
    beat_scheduler: Literal["file", "redbeat"] = "file"
    redbeat_lock_timeout: float = 150.0

    mail_dir: Path = VAR_DIR / "mail"
    ingest_files: list[Path] = Field(default_factory=list)
    match_window_days: int = 7
    # Matching (README "Interests"): thresholds on the per-interest normalised score, boosts.
    match_threshold: float = Field(default=0.3, ge=0.0, le=2.0)
    match_semantic: Literal["auto", "on", "off"] = "auto"  # descriptions by embeddings
    match_semantic_threshold: float = Field(default=0.45, ge=-1.0, le=2.0)  # cosine + words
    match_lexical_threshold: float = Field(default=0.3, ge=0.0, le=1.0)  # description fallback
    match_trending_boost: float = Field(default=0.2, ge=0.0)
    match_recency_boost: float = Field(default=0.1, ge=0.0)
    match_recency_half_life_days: float = Field(default=3.0, gt=0.0)
    match_keep_per_subscriber: int = Field(default=100, ge=1)
    hf_base_url: str = "https://huggingface.co"

    # Sources (README "Sources"). Schedules are cron lines in UTC: minute hour day month weekday.
    ingest_sources: list[str] = Field(default_factory=lambda: ["hf", "rss"])  # hf arxiv rss files
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_rss_url: str = "https://rss.arxiv.org/rss"  # or https://rss.arxiv.org/atom
    arxiv_categories: list[str] = Field(
        default_factory=lambda: ["cs.LG", "cs.AI", "cs.CL", "cs.CV", "stat.ML"]
    )
    arxiv_query: str | None = None  # the scheduled arXiv API search, with the categories
    arxiv_max_results: int = Field(default=2_000, ge=1, le=30_000)
    rss_include_cross: bool = False  # cross-lists from other archives are new papers too
    hf_schedule: str = "*/30 6-22 * * *"  # every 30 minutes during the day
    hf_days_back: int = Field(default=1, ge=0, le=7)  # re-read recent days: upvotes keep moving
    rss_schedule: str = "30 5 * * 1-5"  # after arXiv's announcement (20:00 US Eastern) is out
    arxiv_schedule: str = "45 5 * * 1-5"
    files_schedule: str = "*/30 * * * *"
    ingest_check_schedule: str = "0 22 * * 1-5"  # warn when a weekday brought no new paper
    enrich_batch: int = Field(default=100, ge=1, le=500)  # ids per arXiv id_list request
    enrich_max_attempts: int = Field(default=8, ge=1)
    http_timeout: float = Field(default=30.0, gt=0)
    http_retries: int = Field(default=4, ge=0, le=10)
    http_backoff: float = Field(default=2.0, ge=0)  # first retry delay; doubles, with jitter
    http_max_retry_after: float = 300.0  # a longer Retry-After ends the run instead
    arxiv_min_interval: float = Field(default=3.0, ge=0)  # arXiv: one request every 3 seconds
    hf_min_interval: float = Field(default=1.0, ge=0)
    http_user_agent: str | None = None  # default: paperpost/<version> with admin_email

    # Web side: admin API, development inbox page, abuse limits (RELIABILITY.md 1.6).
    admin_token: str | None = None  # bearer token of /api/; the API is closed when unset
    dev_inbox: bool = False  # /dev/inbox shows the Maildir in mail_dir; refused in production
    subscribe_per_ip_hour: int = 5  # form posts that send mail, per client address
    confirm_mails_per_address_day: int = 3  # subscribe-form mails to one address per 24 h
    link_mails_per_address_day: int = 5  # "send me a fresh link" mails to one address per 24 h
    previews_per_ip_minute: int = 30
    allowed_domains: list[str] = Field(default_factory=list)  # when set, only these may subscribe
    denied_domains: list[str] = Field(default_factory=list)
    max_request_bytes: int = 64 * 1024
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For is believed

    # Operations: logs, metrics, operator alerts, data retention (deploy/README.md).
    log_level: str = "INFO"  # DEBUG, INFO, WARNING or ERROR
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for log shippers
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # workers' /metrics; unset: off
    metrics_token: str | None = None  # when set, /metrics wants "Authorization: Bearer <token>"
    alert_window_hours: float = Field(default=24.0, gt=0)  # the rates below are over this window
    alert_min_attempts: int = Field(default=50, ge=1)  # fewer finished sends: no rate alert
    alert_failure_rate: float = Field(default=0.05, ge=0, le=1)  # failed / finished sends
    alert_bounce_rate: float = Field(default=0.02, ge=0, le=1)  # bounces / sent
    alert_complaint_rate: float = Field(default=0.001, ge=0, le=1)  # complaints / sent
    retention_deliveries_days: int = Field(default=180, ge=0)  # finished mails; 0 = keep forever
    retention_events_days: int = Field(default=365, ge=0)  # consent events are always kept
    retention_matches_days: int = Field(default=90, ge=0)
    retention_papers_days: int = Field(default=365, ge=0)  # older papers are not matched either

    # Generated in development when empty; production refuses an empty or short key.
    secret_key_generated: bool = False

    @model_validator(mode="after")
    def _check_environment(self) -> Settings:
        if not self.secret_key:
            if self.env is Env.production:
                raise ConfigError(
                    "PAPERPOST_SECRET_KEY is empty: production needs a fixed random key "
                    '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
                )
            self.secret_key = _development_secret(VAR_DIR / "secret.key")
            self.secret_key_generated = True
        if self.env is Env.production:
            self._check_production()
        if self.timing_profile == "scaled":
            for name, value in SCALED_PROFILE.items():
                if name not in self.model_fields_set:
                    setattr(self, name, value)
        return self

    def _check_production(self) -> None:
        if len(self.secret_key) < 32:
            raise ConfigError("PAPERPOST_SECRET_KEY must be at least 32 characters in production.")
        url = urlsplit(self.public_base_url)
        if url.scheme != "https":
            raise ConfigError(
                f"PAPERPOST_PUBLIC_BASE_URL={self.public_base_url} is not https: production mail "
                "links must be https (RFC 8058 one-click needs an https URL)."
            )
        if self.dev_inbox:
            raise ConfigError("PAPERPOST_DEV_INBOX shows all mail on a web page: not in production")
        if self.smtp_tls is SmtpTls.none and not _is_loopback(self.smtp_host):
            raise ConfigError(
                "PAPERPOST_SMTP_TLS=none to a remote relay: set starttls or implicit in production."
            )

    def development_warnings(self) -> list[str]:
        """What development mode allows that production would refuse, said at start."""
        if self.env is Env.production:
            return []
        notes = []
        if self.secret_key_generated:
            notes.append(
                "secret key generated and kept in var/secret.key (set PAPERPOST_SECRET_KEY)"
            )
        if urlsplit(self.public_base_url).scheme != "https":
            notes.append(f"mail links use plain http ({self.public_base_url})")
        if self.smtp_tls is SmtpTls.none:
            notes.append(f"no TLS to the SMTP relay {self.smtp_host}:{self.smtp_port}")
        return notes

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] or "localhost"

    @property
    def list_identifier(self) -> str:
        return self.list_id or f"digest.{self.mail_domain}"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def secret_keys(self) -> list[str]:
        """Newest first, so tokens signed before a rotation still verify."""
        return [self.secret_key, *self.old_secret_keys]


Format = Literal["html", "text"]
