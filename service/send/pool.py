"""A small pool of reused aiosmtplib connections, one pool per worker process.

Connections are opened lazily, one at a time (so a relay refusing our credentials sees one
attempt, not one per pooled slot), and kept open across batches. After an authentication
failure the pool refuses to reconnect until it is closed: retrying bad credentials in a loop
only gets the sending IP blocked. The relay's certificate is always verified, against
``smtp_ca_file`` when set (a relay with a private CA), else against the system's CAs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

import aiosmtplib
from aiosmtplib import errors

from service.config import Settings, SmtpTls

log = logging.getLogger("paperpost.smtp")


class ConnectFailed(Exception):
    """No connection: ``refused`` when the relay refused us (AUTH), else transient."""

    def __init__(self, code: int | None, reply: str, refused: bool) -> None:
        super().__init__(reply)
        self.code = code
        self.reply = reply
        self.refused = refused


class SmtpPool:
    def __init__(self, settings: Settings, size: int) -> None:
        self._settings = settings
        self._size = size
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots: asyncio.Semaphore | None = None
        self._connecting: asyncio.Lock | None = None
        self._refused: ConnectFailed | None = None
        self._failure: tuple[float, ConnectFailed | None] = (0.0, None)  # the last failed connect
        self._tls: ssl.SSLContext | None = None
        self.opened = 0  # connections opened over the pool's life

    async def acquire(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A connected client and whether it was reused."""
        if self._slots is None or self._connecting is None:
            self._slots, self._connecting = asyncio.Semaphore(self._size), asyncio.Lock()
        await self._slots.acquire()
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
        waiting_since = time.monotonic()
        try:
            async with self._connecting:
                # A connection attempt that failed while this one waited answers for it: a
                # relay that hangs must cost one timeout per pool, not one per pooled slot.
                failed_at, failure = self._failure
                if failure is not None and failed_at >= waiting_since:
                    raise ConnectFailed(failure.code, failure.reply, failure.refused)
                try:
                    return await self._connect(), False
                except ConnectFailed as exc:
                    self._failure = (time.monotonic(), exc)
                    raise
        except BaseException:
            self._slots.release()
            raise

    def release(self, client: aiosmtplib.SMTP, reusable: bool) -> None:
        if reusable and client.is_connected:
            self._idle.append(client)
        else:
            _drop(client)
        if self._slots is not None:
            self._slots.release()

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._refused is not None:
            raise self._refused
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            use_tls=s.smtp_tls is SmtpTls.implicit,
            start_tls=s.smtp_tls is SmtpTls.starttls,
            tls_context=self._tls_context(),
        )
        self.opened += 1
        try:
            await client.connect()
            if client.last_ehlo_response is None:  # EHLO now: a hang here is a connect failure
                await client.ehlo()
            if s.smtp_username and not client.supports_extension("auth"):
                _drop(client)  # typically a relay that offers AUTH only after STARTTLS
                raise self._refuse(
                    None, f"the relay offers no AUTH (PAPERPOST_SMTP_TLS={s.smtp_tls})"
                )
            if s.smtp_username:
                await client.login(s.smtp_username, s.smtp_password or "")
        except errors.SMTPAuthenticationError as exc:
            _drop(client)
            raise self._refuse(exc.code, exc.message) from exc
        except errors.SMTPResponseException as exc:
            _drop(client)
            raise ConnectFailed(exc.code, exc.message, refused=False) from exc
        except (errors.SMTPException, OSError) as exc:
            _drop(client)
            raise ConnectFailed(None, f"{type(exc).__name__}: {exc}", refused=False) from exc
        return client

    def _tls_context(self) -> ssl.SSLContext | None:
        if self._settings.smtp_tls is SmtpTls.none:
            return None
        if self._tls is None:
            try:
                self._tls = relay_tls_context(self._settings)
            except OSError as exc:  # an unreadable CA file: retrying cannot help
                raise self._refuse(None, f"PAPERPOST_SMTP_CA_FILE: {exc}") from exc
        return self._tls

    def _refuse(self, code: int | None, reply: str) -> ConnectFailed:
        """Refuse every connection until the pool is closed (the operator fixes the cause)."""
        self._refused = ConnectFailed(code, reply, refused=True)
        log.error("SMTP relay %s refused: %s %s", self._settings.smtp_host, code or "", reply)
        return self._refused

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            if client.is_connected:
                try:
                    await client.quit()
                except (errors.SMTPException, OSError):
                    client.close()
        self._refused = None


def relay_tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the relay's certificate and host name, against ``smtp_ca_file`` when set."""
    return ssl.create_default_context(cafile=settings.smtp_ca_file)


def _drop(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()
