"""The mailer port and its SMTP implementation (aiosmtplib, one reused connection).

Outcomes are classified at this edge (RELIABILITY.md 1.5): ``sent``, ``transient`` (retry with
backoff), ``bounced`` (permanent for this recipient: fail and suppress), ``policy`` (the relay
refuses us: pause), ``ambiguous`` (the connection died after DATA: retry, same Message-ID),
``rejected`` (the relay refuses the message itself: fail the row, never resend the same bytes).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiosmtplib
from aiosmtplib import errors

from service.config import Settings, SmtpTls


class Outcome(StrEnum):
    sent = "sent"
    transient = "transient"
    bounced = "bounced"
    policy = "policy"
    ambiguous = "ambiguous"
    rejected = "rejected"  # the relay refuses these bytes (size, format): our bug, no retry


@dataclass(frozen=True, slots=True)
class Outgoing:
    sender: str  # envelope sender (Return-Path)
    recipient: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    code: int | None
    reply: str


class Mailer(Protocol):
    async def send(self, message: Outgoing) -> SendResult: ...

    async def close(self) -> None: ...


class SmtpMailer:
    """Keeps one connection open across ``send`` calls and reconnects when it drops."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            use_tls=s.smtp_tls is SmtpTls.implicit,
            start_tls=s.smtp_tls is SmtpTls.starttls,
            tls_context=ssl.create_default_context() if s.smtp_tls is not SmtpTls.none else None,
        )
        await client.connect()
        if s.smtp_username:
            await client.login(s.smtp_username, s.smtp_password or "")
        return client

    async def send(self, message: Outgoing) -> SendResult:
        try:
            if self._client is None or not self._client.is_connected:
                self._client = await self._connect()
        except errors.SMTPAuthenticationError as exc:
            return SendResult(Outcome.policy, exc.code, exc.message)
        except (errors.SMTPException, OSError) as exc:
            self._client = None
            return SendResult(Outcome.transient, getattr(exc, "code", None), str(exc))
        return await self._send_on(self._client, message)

    async def _send_on(self, client: aiosmtplib.SMTP, message: Outgoing) -> SendResult:
        try:
            refused, reply = await client.sendmail(
                message.sender, [message.recipient], message.data
            )
        except errors.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            return classify(refusal.code, refusal.message)
        except errors.SMTPResponseException as exc:
            if exc.code == -1:
                self._client = None
                return SendResult(Outcome.ambiguous, None, exc.message)
            return classify(exc.code, exc.message)
        except (errors.SMTPServerDisconnected, errors.SMTPReadTimeoutError) as exc:
            self._client = None
            return SendResult(Outcome.ambiguous, None, str(exc))
        except (errors.SMTPException, OSError) as exc:
            self._client = None
            return SendResult(Outcome.transient, None, str(exc))
        if refused:
            code, text = next(iter(refused.values()))
            return classify(code, text)
        return SendResult(Outcome.sent, 250, reply)

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.quit()
            except (errors.SMTPException, OSError):
                self._client.close()
        self._client = None


def classify(code: int, text: str) -> SendResult:
    """Map an SMTP reply to what we do about it (RELIABILITY.md 1.5)."""
    enhanced = _enhanced(text)
    if code == 552 and enhanced == "5.2.2":  # mailbox full: soft
        return SendResult(Outcome.transient, code, text)
    if 400 <= code < 500:
        return SendResult(Outcome.transient, code, text)
    if enhanced.startswith("5.7") or code in (530, 534, 535):
        return SendResult(Outcome.policy, code, text)
    if code in (550, 551, 553) and (enhanced[:4] in ("", "5.1.") or enhanced == "5.2.1"):
        return SendResult(Outcome.bounced, code, text)
    if 500 <= code < 600:
        return SendResult(Outcome.rejected, code, text)
    return SendResult(Outcome.transient, code, text)


def _enhanced(text: str) -> str:
    first = text.strip().split(" ", 1)[0] if text.strip() else ""
    parts = first.split(".")
    return first if len(parts) == 3 and all(p.isdigit() for p in parts) else ""
