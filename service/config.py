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

    mail_from: str = "paperpost@localhost"
    mail_from_name: str = "paperpost"
    postal_address: str = "paperpost, a self-hosted paper digest"
    admin_email: str | None = None  # operator alerts go here
    list_id: str | None = None
    bounce_domain: str | None = None

    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    old_secret_keys: list[str] = Field(default_factory=list)

    batch_size: int = Field(default=200, ge=1, le=10_000)
    lease_seconds: float = 60.0
    max_attempts: int = 8
    max_papers: int = 10
    trending_papers: int = 3
    skip_empty_digests: bool = True

    mail_dir: Path = VAR_DIR / "mail"
    ingest_files: list[Path] = Field(default_factory=list)
    match_window_days: int = 7
    hf_base_url: str = "https://huggingface.co"

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
