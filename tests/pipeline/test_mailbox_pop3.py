"""``paperpost bounces process`` reading a real POP3 server on 127.0.0.1 (a small one written
here: USER, PASS, STAT, RETR, DELE, QUIT): reports are applied, then deleted on QUIT."""

from __future__ import annotations

import datetime as dt
import socketserver
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.store.db import transaction
from service.store.models import Subscriber, SubscriberStatus, Suppression
from service.track.mailbox import open_source
from tests.pipeline.test_feedback import arf, dsn

T0 = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)


class Pop3(socketserver.StreamRequestHandler):
    maildrop: ClassVar[list[bytes]] = []
    deleted: ClassVar[set[int]] = set()

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("+OK ready")
        pending: set[int] = set()
        for raw in self.rfile:
            command, _, arg = raw.decode().strip().partition(" ")
            command = command.upper()
            if command in ("USER", "PASS"):
                self.reply("+OK")
            elif command == "STAT":
                self.reply(f"+OK {len(self.maildrop)} {sum(map(len, self.maildrop))}")
            elif command == "RETR":
                body = self.maildrop[int(arg) - 1].replace(b"\r\n.", b"\r\n..")
                self.wfile.write(b"+OK\r\n" + body.rstrip(b"\r\n") + b"\r\n.\r\n")
            elif command == "DELE":
                pending.add(int(arg))
                self.reply("+OK")
            elif command == "QUIT":
                type(self).deleted |= pending
                self.reply("+OK bye")
                return
            else:
                self.reply("-ERR unknown")


@pytest.fixture
def pop3() -> Iterator[tuple[int, type[Pop3]]]:
    handler = type("Drop", (Pop3,), {"maildrop": [], "deleted": set()})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_pop3_mailbox_is_read_applied_and_emptied(
    pop3: tuple[int, type[Pop3]], factory: sessionmaker[Session], settings: Settings
) -> None:
    port, drop = pop3
    with transaction(factory) as session:
        for n in range(2):
            session.add(Subscriber(email=f"p{n}@example.org", status=SubscriberStatus.active,
                                   created_at=T0, updated_at=T0))  # fmt: skip
    drop.maildrop.extend([
        dsn("bounces@paperpost.example", "p0@example.org", "failed", "5.1.1", None, n=1),
        arf("fbl@paperpost.example", "p1@example.org", "unknown@paperpost.example", n=2),
    ])  # fmt: skip
    source = open_source(f"pop3://bounces:secret@127.0.0.1:{port}")
    try:
        report = pipeline.process_bounces(factory, settings, source, T0)
    finally:
        source.close()
    assert (report.messages, report.suppressed) == (2, 2)
    assert drop.deleted == {1, 2}
    with factory() as session:
        reasons = dict(
            session.execute(select(Suppression.email, Suppression.reason)).tuples().all()
        )
    assert reasons == {"p0@example.org": "hard_bounce", "p1@example.org": "complaint"}
