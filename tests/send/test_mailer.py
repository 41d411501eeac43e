"""The SMTP mailer against a real aiosmtpd server on 127.0.0.1: every outcome class of
RELIABILITY.md 1.5, connection reuse and the pool, AUTH refusal, timeouts and dropped
connections."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from service.config import Settings
from service.send.mailer import Outcome, Outgoing, SendResult, SmtpMailer, classify
from tests.faults.sink import Script, Sink, fault_sink
from tests.servers import smtp_sink


def message(n: int = 0, rcpt: str | None = None) -> Outgoing:
    rcpt = rcpt or f"r{n}@example.org"
    data = (f"From: a@paperpost.example\r\nTo: {rcpt}\r\nMessage-ID: <m{n}@paperpost.example>\r\n"
            f"Subject: t\r\n\r\nbody {n}\r\n").encode()  # fmt: skip
    return Outgoing("bounces@paperpost.example", rcpt, data)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with fault_sink() as running:
        yield running


def mailer_for(settings: Settings, sink: Sink, **extra: object) -> SmtpMailer:
    return SmtpMailer(settings.model_copy(update={"smtp_port": sink.port, **extra}))


def send_all(mailer: SmtpMailer, *messages: Outgoing) -> list[SendResult]:
    async def run() -> list[SendResult]:
        try:
            return [await mailer.send(m) for m in messages]
        finally:
            await mailer.close()

    return asyncio.run(run())


def test_sends_over_one_reused_connection(settings: Settings, sink: Sink) -> None:
    results = send_all(mailer_for(settings, sink), *(message(n) for n in range(5)))
    assert [r.outcome for r in results] == [Outcome.sent] * 5
    assert results[0].code == 250
    assert sink.connections == 1
    assert [a.message_id for a in sink.arrivals] == [f"m{n}@paperpost.example" for n in range(5)]


def test_pool_opens_at_most_its_size_under_concurrency(settings: Settings, sink: Sink) -> None:
    mailer = mailer_for(settings, sink, smtp_pool_size=2)

    async def run() -> list[SendResult]:
        try:
            return list(await asyncio.gather(*(mailer.send(message(n)) for n in range(8))))
        finally:
            await mailer.close()

    assert {r.outcome for r in asyncio.run(run())} == {Outcome.sent}
    assert sink.connections == 2 and len(sink.arrivals) == 8


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("rcpt", "550 5.1.1 no such user", Outcome.bounced),
        ("rcpt", "451 4.3.0 try again", Outcome.transient),
        ("rcpt", "452 4.2.2 mailbox full", Outcome.transient),
        ("data", "550 5.7.1 policy", Outcome.policy),
        ("data", "552 5.2.2 over quota", Outcome.transient),
        ("data", "554 5.6.0 malformed", Outcome.rejected),
    ],
)
def test_refusals_are_classified_and_the_connection_survives(
    settings: Settings, stage: str, reply: str, outcome: Outcome
) -> None:
    def script(rcpt: str, attempt: int) -> str | None:
        return reply if rcpt == "bad@example.org" else None

    plan = Script(rcpt=script) if stage == "rcpt" else Script(data=script)
    with fault_sink(plan) as sink:
        results = send_all(mailer_for(settings, sink), message(1, "bad@example.org"), message(2))
    assert results[0].outcome is outcome and results[0].code == int(reply[:3])
    assert results[1].outcome is Outcome.sent
    assert sink.connections == 1  # RSET, then the same connection carries the next message


def test_421_at_greeting_is_transient_then_a_new_connection(settings: Settings) -> None:
    with fault_sink(Script(greet_421=lambda n: n == 1)) as sink:
        results = send_all(mailer_for(settings, sink), message(1), message(2))
    assert results[0].outcome is Outcome.transient and results[0].stage == "connect"
    assert results[1].outcome is Outcome.sent
    assert sink.connections == 2 and sink.refused_421 == 1


def test_auth_refusal_stops_sending_without_reconnecting(settings: Settings) -> None:
    with fault_sink(Script(auth_fails=True), auth=True) as sink:
        mailer = mailer_for(settings, sink, smtp_username="u", smtp_password="wrong")
        results = send_all(mailer, message(1), message(2), message(3))
    assert [r.outcome for r in results] == [Outcome.policy] * 3
    assert results[0].code == 535 and results[0].stops_sending
    assert sink.connections == 1 and sink.arrivals == []


def test_auth_success(settings: Settings) -> None:
    with fault_sink(auth=True) as sink:
        mailer = mailer_for(settings, sink, smtp_username="u", smtp_password="right")
        assert send_all(mailer, message(1))[0].outcome is Outcome.sent


@pytest.mark.parametrize(
    "script",
    [Script(data_delay=lambda rcpt: 2.5), Script(drop_after_data=lambda rcpt: True)],
    ids=["reply-after-timeout", "dropped-after-data"],
)
def test_lost_reply_after_data_is_ambiguous(settings: Settings, script: Script) -> None:
    with fault_sink(script) as sink:
        mailer = mailer_for(settings, sink, smtp_timeout=1.0)
        result = send_all(mailer, message(1))[0]
        assert result.outcome is Outcome.ambiguous
        assert sink.wait_for(1, 5)  # the relay did get it: that is the ambiguity


def test_hang_at_ehlo_times_out_as_transient(settings: Settings) -> None:
    with fault_sink(Script(hang_ehlo=True)) as sink:
        result = send_all(mailer_for(settings, sink, smtp_timeout=0.5), message(1))[0]
    assert result.outcome is Outcome.transient and result.stage == "connect"


def test_relay_down_is_transient(settings: Settings) -> None:
    from tests.servers import free_port

    result = send_all(SmtpMailer(settings.model_copy(update={"smtp_port": free_port()})),
                      message(1))[0]  # fmt: skip
    assert result.outcome is Outcome.transient and result.stage == "connect"


@pytest.mark.parametrize(
    ("code", "text", "outcome"),
    [
        (550, "5.1.1 unknown user", Outcome.bounced),
        (551, "5.1.6 moved", Outcome.bounced),
        (553, "5.1.3 bad address", Outcome.bounced),
        (550, "5.2.1 disabled", Outcome.bounced),
        (550, "no such user", Outcome.bounced),
        (550, "5.7.26 unauthenticated", Outcome.policy),
        (550, "5.7.515 outlook", Outcome.policy),
        (535, "5.7.8 bad credentials", Outcome.policy),
        (552, "5.2.2 full", Outcome.transient),
        (552, "5.3.4 too big", Outcome.rejected),
        (554, "5.6.0 malformed", Outcome.rejected),
        (421, "4.7.28 rate limited", Outcome.transient),
        (450, "4.2.1 busy", Outcome.transient),
    ],
)
def test_classify(code: int, text: str, outcome: Outcome) -> None:
    assert classify(code, text).outcome is outcome


def test_a_relay_closing_a_reused_connection_costs_no_attempt(settings: Settings) -> None:
    """A 421 to MAIL on a reused connection (a relay's per-connection limit) is retried at once
    on a new connection: nothing was transmitted, so nothing is ambiguous."""
    with fault_sink(Script(messages_per_connection=2)) as sink:
        results = send_all(mailer_for(settings, sink), *(message(n) for n in range(5)))
    assert [r.outcome for r in results] == [Outcome.sent] * 5
    assert sink.connections == 3 and len(sink.arrivals) == 5


@pytest.mark.parametrize(
    ("body", "arrives"),
    [
        (b"plain\r\nlines\r\n", b"plain\r\nlines\r\n"),
        (
            b".starts with a dot\r\n..two\r\n.\r\nend\r\n",
            b".starts with a dot\r\n..two\r\n.\r\nend\r\n",
        ),
        (
            b"bare\nline feed\rand carriage return\r\n",
            b"bare\r\nline feed\r\nand carriage return\r\n",
        ),
        (b"no final line ending", b"no final line ending\r\n"),
    ],
)
def test_data_arrives_as_composed_with_dots_and_line_endings_made_safe(
    settings: Settings, body: bytes, arrives: bytes
) -> None:
    """Lines starting with a dot survive the transparency procedure, and a bare CR or LF never
    reaches the relay as one (the SMTP smuggling shapes)."""
    head = b"From: a@paperpost.example\r\nTo: r@example.org\r\nSubject: t\r\n\r\n"
    with smtp_sink() as (handler, port):
        mailer = SmtpMailer(settings.model_copy(update={"smtp_port": port}))
        results = send_all(mailer, Outgoing("b@paperpost.example", "r@example.org", head + body))
    assert results[0].outcome is Outcome.sent
    assert handler.messages[0].data == head + arrives
