"""An aiosmtpd sink on 127.0.0.1 that logs every accepted message as ``(rcpt, Message-ID,
arrival_ts, connection_id)`` and plays fault scripts: a reply to RCPT per recipient and
attempt, a reply to DATA, a delay before the DATA reply, a dropped connection after DATA,
``421`` at the greeting of chosen connections, ``535`` on AUTH, and a hang at EHLO."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from tests.servers import free_port

MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Arrival:
    rcpt: str
    message_id: str
    arrived: float
    connection: int
    sender: str


@dataclass
class Script:
    rcpt: Callable[[str, int], str | None] | None = None  # (rcpt, attempt no.) -> reply
    data: Callable[[str, int], str | None] | None = None  # (rcpt, attempt no.) -> reply
    data_delay: Callable[[str], float] | None = None  # seconds before the 250 after DATA
    drop_after_data: Callable[[str], bool] | None = None  # accept, then close without a reply
    greet_421: Callable[[int], bool] | None = None  # (connection no.) -> refuse at greeting
    auth_fails: bool = False
    hang_ehlo: bool = False
    messages_per_connection: int | None = None  # then "421" to MAIL, as busy relays do


@dataclass
class Sink:
    port: int = 0
    script: Script = field(default_factory=Script)
    arrivals: list[Arrival] = field(default_factory=list)
    connections: int = 0
    refused_421: int = 0
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_connection(self) -> int:
        with self.lock:
            self.connections += 1
            return next(self._ids)

    def ids_by_rcpt(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for a in list(self.arrivals):
            out.setdefault(a.rcpt, []).append(a.message_id)
        return out

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.arrivals) >= count:
                return True
            time.sleep(0.1)
        return len(self.arrivals) >= count


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        if self.sink.script.hang_ehlo:
            await asyncio.sleep(3600)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        limit = self.sink.script.messages_per_connection
        session.mails = getattr(session, "mails", 0) + 1
        if limit is not None and session.mails > limit:
            return "421 4.7.0 Too many messages on this connection, reconnect"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.sink.lock:
            self.sink.rcpt_attempts[address] += 1
            attempt = self.sink.rcpt_attempts[address]
        script = self.sink.script.rcpt
        reply = script(address, attempt) if script else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rcpt = envelope.rcpt_tos[0]
        script = self.sink.script
        if script.data is not None:
            reply = script.data(rcpt, self.sink.rcpt_attempts[rcpt])
            if reply:
                return reply
        found = MESSAGE_ID.search(envelope.original_content or b"")
        arrival = Arrival(rcpt, found.group(1).decode() if found else "", time.time(),
                          session.connection_id, envelope.mail_from)  # fmt: skip
        with self.sink.lock:
            self.sink.arrivals.append(arrival)
        if script.drop_after_data is not None and script.drop_after_data(rcpt):
            server.transport.close()
            return "250 dropped"  # never reaches the client
        if script.data_delay is not None:
            await asyncio.sleep(script.data_delay(rcpt))
        return "250 2.0.0 queued"


class _SMTP(SMTP):
    def __init__(self, sink: Sink, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink
        self._refused = False

    def connection_made(self, transport: Any) -> None:
        number = self._sink.new_connection()
        greet = self._sink.script.greet_421
        if greet is not None and greet(number):
            self._refused = True
            with self._sink.lock:
                self._sink.refused_421 += 1
            transport.write(b"421 4.3.2 Service not available, try later\r\n")
            transport.close()
            return
        super().connection_made(transport)
        self.session.connection_id = number

    def connection_lost(self, error: Exception | None) -> None:
        if not self._refused:
            super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, sink: Sink, **kwargs: Any) -> None:
        self.sink = sink
        super().__init__(_Handler(sink), **kwargs)

    def factory(self) -> SMTP:
        return _SMTP(self.sink, self.handler, **self.SMTP_kwargs)


def _authenticate(sink: Sink) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=not sink.script.auth_fails, handled=False)

    return check


@contextmanager
def fault_sink(script: Script | None = None, auth: bool = False) -> Iterator[Sink]:
    sink = Sink(script=script or Script())
    kwargs: dict[str, Any] = {}
    if auth:
        kwargs = {"authenticator": _authenticate(sink), "auth_require_tls": False}
    controller = _Controller(sink, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    sink.port = controller.port
    with sink.lock:
        sink.connections = 0  # start() probes the server with a connection of its own
        sink._ids = itertools.count(1)
        sink.refused_421 = 0
    try:
        yield sink
    finally:
        controller.stop()
