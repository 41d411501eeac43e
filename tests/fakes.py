"""Fakes for the ports: the mailer, the clock. Real servers live in tests/servers.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from service.send.mailer import Outcome, Outgoing, SendResult


@dataclass
class FakeMailer:
    """Records every message; ``script`` maps a recipient to the outcomes of its attempts."""

    sent: list[Outgoing] = field(default_factory=list)
    script: dict[str, list[SendResult]] = field(default_factory=dict)
    closed: int = 0

    async def send(self, message: Outgoing) -> SendResult:
        queue = self.script.get(message.recipient)
        result = queue.pop(0) if queue else SendResult(Outcome.sent, 250, "2.0.0 OK")
        if result.outcome in (Outcome.sent, Outcome.ambiguous):
            self.sent.append(message)
        return result

    async def close(self) -> None:
        self.closed += 1


@dataclass
class FakeClock:
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
