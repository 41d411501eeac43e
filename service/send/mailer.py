"""The mailer port and its SMTP implementation (aiosmtplib over a small connection pool).

Outcomes are classified at this edge (RELIABILITY.md 1.5): ``sent``, ``transient`` (retry with
backoff), ``bounced`` (permanent for this recipient: fail and suppress), ``policy`` (the relay
refuses us: pause), ``ambiguous`` (the connection died after DATA: retry, same Message-ID),
``rejected`` (the relay refuses the message itself: fail the row, never resend the same bytes).

A message goes out as three commands (MAIL, RCPT, DATA) rather than one ``sendmail`` call, so
the stage where a connection died is known: before DATA nothing can have been delivered and a
stale pooled connection is simply replaced; during DATA the outcome is ambiguous.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiosmtplib
from aiosmtplib import SMTPStatus, errors
from aiosmtplib.protocol import normalize_message_line_endings

from service.config import Settings
from service.send.pool import ConnectFailed, SmtpPool

log = logging.getLogger("paperpost.smtp")
AUTH_CODES = (530, 534, 535, 538)


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
    stage: str = "data"  # connect | mail | rcpt | data: where the outcome was decided

    @property
    def stops_sending(self) -> bool:
        """A refusal of us rather than of one message: AUTH, or the sender refused."""
        return self.outcome is Outcome.policy and (
            self.stage in ("connect", "mail") or (self.code or 0) in AUTH_CODES
        )


class Mailer(Protocol):
    async def send(self, message: Outgoing) -> SendResult: ...

    async def close(self) -> None: ...


class SmtpMailer:
    """Sends over a pool of up to ``smtp_pool_size`` reused connections; safe to call ``send``
    concurrently from one event loop."""

    def __init__(self, settings: Settings, pool_size: int | None = None) -> None:
        self.pool = SmtpPool(settings, pool_size or settings.smtp_pool_size)

    async def send(self, message: Outgoing) -> SendResult:
        for _ in range(2):  # a reused connection the server dropped while idle: once more
            try:
                client, reused = await self.pool.acquire()
            except ConnectFailed as failure:
                outcome = Outcome.policy if failure.refused else Outcome.transient
                return SendResult(outcome, failure.code, failure.reply, "connect")
            result, keep = await _transact(client, message)
            self.pool.release(client, keep)
            if not (reused and result.stage == "mail" and not keep):
                return result
        return result

    async def close(self) -> None:
        await self.pool.close()


async def _transact(client: aiosmtplib.SMTP, message: Outgoing) -> tuple[SendResult, bool]:
    """One mail transaction; returns the result and whether the connection stays usable."""
    try:
        await client.mail(message.sender)
    except errors.SMTPResponseException as exc:
        if 400 <= exc.code < 500:
            return SendResult(Outcome.transient, exc.code, exc.message, "mail"), exc.code != 421
        return SendResult(Outcome.policy, exc.code, exc.message, "mail"), False
    except (errors.SMTPException, OSError) as exc:
        return SendResult(Outcome.transient, None, str(exc), "mail"), False
    try:
        await client.rcpt(message.recipient)
    except errors.SMTPResponseException as exc:
        return _with_stage(classify(exc.code, exc.message), "rcpt"), await _rset(client, exc.code)
    except (errors.SMTPException, OSError) as exc:
        return SendResult(Outcome.transient, None, str(exc), "rcpt"), False
    try:
        reply = await _data(client, message.data)
    except errors.SMTPResponseException as exc:
        if exc.code < 0:
            return SendResult(Outcome.ambiguous, None, exc.message), False
        return classify(exc.code, exc.message), await _rset(client, exc.code)
    except (errors.SMTPException, OSError) as exc:
        # Disconnect or read timeout after the data went out: the relay may have it.
        return SendResult(Outcome.ambiguous, None, f"{type(exc).__name__}: {exc}"), False
    return SendResult(Outcome.sent, reply.code, reply.message), True


async def _data(client: aiosmtplib.SMTP, data: bytes) -> aiosmtplib.SMTPResponse:
    """DATA with the message as it will travel. ``SMTP.data`` runs two regular expressions
    over every message to turn lone CR and LF into CRLF and to double leading dots, about a
    third of a millisecond per digest; composed messages already end every line in CRLF, so
    that is checked by counting (microseconds) and the dots are doubled only when a line
    starts with one. Anything else goes through aiosmtplib's own normalisation, so no bare
    line ending ever reaches the relay. The pool gives a connection to one sender at a time,
    so no other command can interleave."""
    protocol = client.protocol
    if protocol is None:
        raise errors.SMTPServerDisconnected("Connection lost")
    crlf = data.count(b"\r\n")
    if crlf != data.count(b"\n") or crlf != data.count(b"\r") or not data.endswith(b"\r\n"):
        data = normalize_message_line_endings(data)
    if data.startswith(b".") or b"\n." in data:
        data = (b"." if data.startswith(b".") else b"") + data.replace(b"\n.", b"\n..")
    try:
        protocol.write(b"DATA\r\n")
        start = await protocol.read_response(timeout=client.timeout)
        if start.code != SMTPStatus.start_input:
            raise errors.SMTPDataError(start.code, start.message)
        protocol.write(data + b".\r\n")
        reply = await protocol.read_response(timeout=client.timeout)
    except (errors.SMTPServerDisconnected, errors.SMTPTimeoutError):
        client.close()
        raise
    if reply.code != SMTPStatus.completed:
        raise errors.SMTPDataError(reply.code, reply.message)
    return reply


async def _rset(client: aiosmtplib.SMTP, code: int) -> bool:
    """Reset the transaction after a refusal so the connection can be reused; 421 means the
    server is closing it."""
    if code == 421 or not client.is_connected:
        return False
    try:
        await client.rset()
    except (errors.SMTPException, OSError):
        return False
    return True


def _with_stage(result: SendResult, stage: str) -> SendResult:
    return SendResult(result.outcome, result.code, result.reply, stage)


def classify(code: int, text: str) -> SendResult:
    """Map an SMTP reply to what we do about it (RELIABILITY.md 1.5)."""
    enhanced = _enhanced(text)
    if code == 552 and enhanced == "5.2.2":  # mailbox full: soft
        return SendResult(Outcome.transient, code, text)
    if 400 <= code < 500:
        return SendResult(Outcome.transient, code, text)
    if enhanced.startswith("5.7") or code in AUTH_CODES:
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
