"""SMTP over TLS against a real aiosmtpd relay on 127.0.0.1 whose certificate a throwaway CA
signed: STARTTLS (the relay requires it and offers AUTH only after it) and implicit TLS, each
with AUTH; a CA that did not sign the relay's certificate, a certificate for another host and an
unreadable CA file; and plain SMTP to a relay that wants STARTTLS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from service.config import Settings, SmtpTls
from service.send.mailer import Outcome, Outgoing, SendResult, SmtpMailer
from tests.servers import Pki, SinkHandler, free_port, make_pki

USER, PASSWORD = "digest-sender", "correct horse battery"
TLS_MODES = [SmtpTls.starttls, SmtpTls.implicit]


@dataclass
class TlsSinkHandler(SinkHandler):
    """Records, besides each message, the TLS version it arrived over and every login."""

    tls: list[str | None] = field(default_factory=list)
    logins: list[tuple[str, str, str | None]] = field(default_factory=list)  # mech, user, TLS

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tls.append(_tls_version(server))
        return await super().handle_DATA(server, session, envelope)

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((mechanism, data.login.decode(), _tls_version(server)))
        ok = (data.login.decode(), data.password.decode()) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False)


def _tls_version(server: Any) -> str | None:
    ssl_object = server.transport.get_extra_info("ssl_object")
    return str(ssl_object.version()) if ssl_object is not None else None


@contextmanager
def tls_relay(pki: Pki, mode: SmtpTls) -> Iterator[tuple[TlsSinkHandler, int]]:
    handler = TlsSinkHandler()
    kwargs: dict[str, Any] = {"authenticator": handler.authenticate}
    if mode is SmtpTls.implicit:
        # aiosmtpd counts only STARTTLS as TLS when it decides whether to offer AUTH; here the
        # whole connection is TLS, and the handler records the TLS version of each login.
        kwargs |= {"ssl_context": pki.server_context(), "auth_require_tls": False}
    else:
        kwargs |= {"tls_context": pki.server_context(), "require_starttls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def message(n: int) -> Outgoing:
    rcpt = f"r{n}@example.org"
    data = (f"From: digest@paperpost.example\r\nTo: {rcpt}\r\n"
            f"Message-ID: <tls{n}@paperpost.example>\r\nSubject: papers {n}\r\n\r\n"
            f"body {n}\r\n.a line that starts with a dot\r\n").encode()  # fmt: skip
    return Outgoing("bounces@paperpost.example", rcpt, data)


def send_all(settings: Settings, *messages: Outgoing) -> list[SendResult]:
    mailer = SmtpMailer(settings)

    async def run() -> list[SendResult]:
        try:
            return [await mailer.send(m) for m in messages]
        finally:
            await mailer.close()

    return asyncio.run(run())


def relay_settings(settings: Settings, port: int, mode: SmtpTls, **extra: object) -> Settings:
    update = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": mode,
              "smtp_username": USER, "smtp_password": PASSWORD, **extra}  # fmt: skip
    return settings.model_copy(update=update)


@pytest.mark.parametrize("mode", TLS_MODES)
def test_sends_with_auth_over_tls(settings: Settings, pki: Pki, mode: SmtpTls) -> None:
    with tls_relay(pki, mode) as (relay, port):
        sent = [message(0), message(1)]
        results = send_all(relay_settings(settings, port, mode, smtp_ca_file=pki.ca_file), *sent)
    assert [(r.outcome, r.code) for r in results] == [(Outcome.sent, 250)] * 2
    assert [(m.mail_from, m.rcpt_tos, m.data) for m in relay.messages] == [
        (m.sender, [m.recipient], m.data) for m in sent
    ]
    assert all(version and version.startswith("TLSv1.") for version in relay.tls), relay.tls
    [(mechanism, user, login_tls)] = relay.logins  # one login: the connection was reused
    assert user == USER and mechanism in {"PLAIN", "LOGIN"} and login_tls == relay.tls[0]


@pytest.mark.parametrize("mode", TLS_MODES)
@pytest.mark.parametrize("trust", ["another CA", "the system's CAs"])
def test_an_untrusted_certificate_is_a_transient_connect_failure(
    settings: Settings, pki: Pki, tmp_path: Path, mode: SmtpTls, trust: str
) -> None:
    ca_file = make_pki(tmp_path / "other").ca_file if trust == "another CA" else None
    with tls_relay(pki, mode) as (relay, port):
        [result] = send_all(relay_settings(settings, port, mode, smtp_ca_file=ca_file), message(0))
    assert (result.outcome, result.stage, result.stops_sending) == (
        Outcome.transient,
        "connect",
        False,
    )
    assert "CERTIFICATE_VERIFY_FAILED" in result.reply, result.reply
    assert "unable to get local issuer certificate" in result.reply
    assert relay.messages == [] and relay.logins == []


@pytest.mark.parametrize("mode", TLS_MODES)
def test_a_certificate_for_another_host_is_refused(
    settings: Settings, tmp_path: Path, mode: SmtpTls
) -> None:
    other_host = make_pki(tmp_path / "pki", names=("relay.example.org",))
    with tls_relay(other_host, mode) as (relay, port):
        update = {"smtp_ca_file": other_host.ca_file}
        [result] = send_all(relay_settings(settings, port, mode, **update), message(0))
    assert (result.outcome, result.stage) == (Outcome.transient, "connect")
    assert "CERTIFICATE_VERIFY_FAILED" in result.reply, result.reply
    assert "mismatch, certificate is not valid for '127.0.0.1'" in result.reply
    assert relay.messages == [] and relay.logins == []


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_an_unreadable_ca_file_stops_sending(
    settings: Settings, pki: Pki, tmp_path: Path, content: bytes | None
) -> None:
    ca_file = tmp_path / "relay-ca.pem"
    if content is not None:
        ca_file.write_bytes(content)
    with tls_relay(pki, SmtpTls.starttls) as (relay, port):
        update = {"smtp_ca_file": ca_file}
        [result] = send_all(relay_settings(settings, port, SmtpTls.starttls, **update), message(0))
    assert (result.outcome, result.stage, result.stops_sending) == (Outcome.policy, "connect", True)
    assert "PAPERPOST_SMTP_CA_FILE" in result.reply
    assert relay.messages == []


@pytest.mark.parametrize(
    ("login", "stage", "said"),
    [(True, "connect", "offers no AUTH"), (False, "mail", "STARTTLS")],
    ids=["with-auth", "without-auth"],
)
def test_plain_smtp_to_a_relay_that_requires_starttls_is_a_refusal(
    settings: Settings, pki: Pki, login: bool, stage: str, said: str
) -> None:
    """Not a crash, and not a retry loop: the refusal stops sending until the operator sets
    PAPERPOST_SMTP_TLS."""
    with tls_relay(pki, SmtpTls.starttls) as (relay, port):
        update = {} if login else {"smtp_username": None, "smtp_password": None}
        [result] = send_all(relay_settings(settings, port, SmtpTls.none, **update), message(0))
    assert (result.outcome, result.stage, result.stops_sending) == (Outcome.policy, stage, True)
    assert said in result.reply, result.reply
    assert relay.messages == [] and relay.logins == []
