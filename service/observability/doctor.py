"""``paperpost doctor``: is this instance able to do its job, and if not, what to change.

Each check returns findings (ok, warn or fail) whose detail says what is wrong and what to do.
Network checks (the relay, DNS, the public URL) take an ``offline`` switch; the DNS resolver is
an argument, so the tests point it at a DNS server of their own on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import aiosmtplib
import dns.resolver
import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.config import Env, Settings, SmtpTls
from service.observability import dnscheck
from service.observability.dnscheck import Finding
from service.observability.health import expected_heads
from service.send.pool import relay_tls_context

Factory = sessionmaker[Session]


def run_checks(
    settings: Settings,
    factory: Factory,
    resolver: dns.resolver.Resolver | None,
    offline: bool = False,
) -> list[Finding]:
    checks: list[Callable[[], list[Finding]]] = [
        lambda: configuration(settings),
        lambda: database(factory),
        lambda: broker(settings),
    ]
    if not offline:
        checks += [
            lambda: [smtp(settings)],
            lambda: dnscheck.check_domain(
                resolver,
                settings.mail_domain,
                settings.dkim_selector,
                settings.dkim_domain or settings.mail_domain,
            ),
            lambda: [public_url(settings)],
        ]
    return [finding for check in checks for finding in check()]


def configuration(settings: Settings) -> list[Finding]:
    production = settings.env is Env.production
    notes = "" if production else ": " + "; ".join(settings.development_warnings())
    admin = (
        Finding("admin email", "ok", f"alerts go to {settings.admin_email}")
        if settings.admin_email
        else Finding("admin email", "warn", "PAPERPOST_ADMIN_EMAIL unset: alerts are only logged")
    )
    return [
        Finding("environment", "ok" if production else "warn", settings.env.value + notes),
        secret_key(settings),
        admin,
    ]


def secret_key(settings: Settings) -> Finding:
    length = len(settings.secret_key)
    if settings.secret_key_generated:
        return Finding("secret key", "warn", "generated into var/secret.key: set "
                       "PAPERPOST_SECRET_KEY, the same on every machine")  # fmt: skip
    if length < 32:
        return Finding("secret key", "fail", f"only {length} characters: use 32 or more "
                       "(secrets.token_urlsafe(48))")  # fmt: skip
    rotated = f", {len(settings.old_secret_keys)} older keys" if settings.old_secret_keys else ""
    return Finding("secret key", "ok", f"{length} characters{rotated}")


def database(factory: Factory) -> list[Finding]:
    from alembic.runtime.migration import MigrationContext

    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
            revision = MigrationContext.configure(session.connection()).get_current_revision()
            paused = _pause(session)
    except SQLAlchemyError as exc:
        return [
            Finding(
                "database",
                "fail",
                f"cannot connect: {exc.__class__.__name__}: "
                f"{str(getattr(exc, 'orig', exc))[:200]} (PAPERPOST_DATABASE_URL)",
            )
        ]
    heads = expected_heads()
    found = [
        Finding("database", "ok", f"at revision {revision}")
        if revision in heads
        else Finding(
            "database",
            "fail",
            f"at revision {revision or 'none'}, the code expects "
            f"{', '.join(heads)}: run `paperpost db upgrade`",
        )
    ]
    if paused:
        found.append(
            Finding(
                "sending",
                "fail",
                f"paused: {paused}; when the cause is fixed, run `paperpost deliveries resume`",
            )
        )
    return found


def _pause(session: Session) -> str | None:
    try:
        from service.store.sending import current_pause
    except ImportError:  # pragma: no cover - ships with the delivery engine
        return None
    try:
        pause = current_pause(session)
    except SQLAlchemyError:
        return None  # no schema yet: the revision finding says so
    return f"{pause.reason} (since {pause.since})" if pause else None


def broker(settings: Settings) -> list[Finding]:
    from kombu.connection import Connection

    found = []
    for name, url in (("broker", settings.broker_url), ("redis", settings.redis_url)):
        if url is None:
            continue
        connection: Any = Connection(url, connect_timeout=3)  # type: ignore[no-untyped-call]
        try:
            connection.ensure_connection(max_retries=1, timeout=3)
            found.append(Finding(name, "ok", f"{connection.as_uri()} answers"))
        except Exception as exc:  # noqa: BLE001 - kombu raises whatever its transport raises
            found.append(
                Finding(
                    name,
                    "fail",
                    f"{connection.as_uri()}: {exc.__class__.__name__}:"
                    f" {str(exc)[:160]} (is it running? PAPERPOST_{name.upper()}_URL)",
                )
            )
        finally:
            connection.release()
    return found


def smtp(settings: Settings) -> Finding:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        detail = asyncio.run(_smtp_login(settings))
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Finding(
            "SMTP",
            "fail",
            f"{where} refused the login: {exc.code} {exc.message} "
            "(PAPERPOST_SMTP_USERNAME and PAPERPOST_SMTP_PASSWORD)",
        )
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return Finding(
            "SMTP",
            "fail",
            f"cannot talk to {where}: {exc.__class__.__name__}: "
            f"{str(exc)[:160]} (PAPERPOST_SMTP_HOST, _PORT, _TLS)",
        )
    status = "ok" if settings.smtp_username or settings.env is not Env.production else "warn"
    return Finding("SMTP", status, f"{where}: {detail}")


async def _smtp_login(settings: Settings) -> str:
    tls = settings.smtp_tls
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=min(settings.smtp_timeout, 10),
        use_tls=tls is SmtpTls.implicit,
        start_tls=tls is SmtpTls.starttls,
        tls_context=relay_tls_context(settings) if tls is not SmtpTls.none else None,
    )
    await client.connect()
    try:
        secure = "TLS" if tls is not SmtpTls.none else "no TLS"
        if not settings.smtp_username:
            return f"connected ({secure}); no login configured"
        await client.login(settings.smtp_username, settings.smtp_password or "")
        return f"logged in as {settings.smtp_username} ({secure})"
    finally:
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()


def public_url(settings: Settings) -> Finding:
    url = settings.public_base_url.rstrip("/") + "/healthz"
    https = settings.public_base_url.startswith("https://")
    try:
        response = httpx.get(url, timeout=5, follow_redirects=False)
    except httpx.HTTPError as exc:
        return Finding(
            "public URL",
            "warn",
            f"could not reach {url}: {exc.__class__.__name__} "
            "(links in mail point here: is the web app up behind this address?)",
        )
    if response.status_code != 200:
        return Finding(
            "public URL",
            "fail",
            f"{url} answered {response.status_code}, not 200 "
            "(does the reverse proxy forward to the web app?)",
        )
    return Finding(
        "public URL",
        "ok" if https else "warn",
        f"{url} answers" + ("" if https else "; production needs https"),
    )
