"""The development inbox: an aiosmtpd server on 127.0.0.1 that stores each message in a Maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class MaildirHandler:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(path, create=True)
        self.received = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.maildir.add(mailbox.MaildirMessage(content))
        self.received += 1
        return "250 2.0.0 Message accepted for delivery"


def start_inbox(path: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[Controller, int]:
    """Start the inbox in a background thread; port 0 picks a free port. Returns it too."""
    controller = Controller(MaildirHandler(path), hostname=host, port=port or _free_port(host))
    controller.start()
    return controller, controller.port


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
