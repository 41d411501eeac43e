"""``paperpost doctor`` against real servers on 127.0.0.1: an SMTP relay with AUTH (aiosmtpd),
a DNS server answering TXT queries (dnspython on UDP), the web app's /healthz, the database and
the broker; and what it says when each of them is wrong."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.observability.doctor import run_checks
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker
from service.web.health import router
from tests.cli.conftest import Cli
from tests.observability.test_health import serve
from tests.servers import SinkHandler, free_port

DOMAIN = "papers.example.org"
RECORDS = {
    (DOMAIN, "TXT"): ["v=spf1 ip4:192.0.2.10 -all", "google-site-verification=abc"],
    (f"s2026._domainkey.{DOMAIN}", "TXT"): ["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC"],
    (f"_dmarc.{DOMAIN}", "TXT"): [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}"],
}


class DnsServer:
    """Answers from ``records``; SOA for the zone apex; NXDOMAIN for names outside it."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.sock.sendto(self.answer(dns.message.from_wire(wire)).to_wire(), peer)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        if (name, kind) in self.records:
            reply.answer.append(dns.rrset.from_text(
                question.name, 300, "IN", kind, *(f'"{t}"' for t in self.records[(name, kind)])
            ))  # fmt: skip
        elif name == DOMAIN and kind == "SOA":
            reply.answer.append(dns.rrset.from_text(
                question.name, 300, "IN", "SOA", f"ns.{DOMAIN}. hostmaster.{DOMAIN}. 1 2 3 4 5"
            ))  # fmt: skip
        elif not name.endswith(DOMAIN):
            reply.set_rcode(dns.rcode.NXDOMAIN)
        return reply

    def resolver(self) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], self.port, 2
        return resolver

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer(dict(RECORDS))
    yield server
    server.close()


@pytest.fixture
def relay() -> Iterator[int]:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = (auth.login, auth.password) == (b"digest", b"relay-password")
        return AuthResult(success=ok, handled=False)

    controller = Controller(SinkHandler(), hostname="127.0.0.1", port=free_port(),
                            authenticator=authenticate, auth_require_tls=False)  # fmt: skip
    controller.start()
    yield controller.port
    controller.stop()


@pytest.fixture
def ready(settings: Settings, relay: int) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    migrate.upgrade(settings.database_url)
    app = FastAPI()
    app.state.factory = make_sessionmaker(make_engine(settings.database_url))
    app.include_router(router)
    with serve(app) as base:
        yield settings.model_copy(update={
            "mail_from": f"digest@{DOMAIN}", "smtp_port": relay, "smtp_username": "digest",
            "smtp_password": "relay-password", "dkim_selector": "s2026", "public_base_url": base,
            "admin_email": "ops@example.org", "broker_url": f"sqla+sqlite:///{settings.mail_dir}.broker",
        }), app.state.factory  # fmt: skip


def statuses(findings: list[Any]) -> dict[str, tuple[str, str]]:
    return {f.name: (f.status, f.detail) for f in findings}


def test_a_healthy_instance(
    ready: tuple[Settings, sessionmaker[Session]], dns_server: DnsServer
) -> None:
    settings, factory = ready
    found = statuses(run_checks(settings, factory, dns_server.resolver()))
    assert {name: s for name, (s, _) in found.items()} == {
        "environment": "warn",  # development mode: said, not failed
        "secret key": "ok", "admin email": "ok", "database": "ok", "broker": "ok", "SMTP": "ok",
        "SPF": "ok", "DKIM": "ok", "DMARC": "ok", "public URL": "warn",  # http, not https
    }  # fmt: skip
    assert found["SMTP"][1].endswith("logged in as digest (no TLS)")
    assert found["SPF"][1] == "v=spf1 ip4:192.0.2.10 -all"
    assert found["DKIM"][1] == f"key published at s2026._domainkey.{DOMAIN}"
    assert "production needs https" in found["public URL"][1]


def test_what_is_wrong_and_what_to_do(
    ready: tuple[Settings, sessionmaker[Session]], dns_server: DnsServer
) -> None:
    settings, factory = ready
    del dns_server.records[(f"_dmarc.{DOMAIN}", "TXT")]
    dns_server.records[(DOMAIN, "TXT")].append("v=spf1 +all")
    wrong = settings.model_copy(update={"smtp_password": "nope", "dkim_selector": "old",
                                        "broker_url": f"redis://127.0.0.1:{free_port()}/0"})  # fmt: skip
    found = statuses(run_checks(wrong, factory, dns_server.resolver()))
    assert found["SMTP"][0] == "fail" and "refused the login: 535" in found["SMTP"][1]
    assert found["SPF"] == ("fail", f"2 SPF records on {DOMAIN}: keep exactly one")
    assert (
        found["DKIM"][0] == "fail" and f"no DKIM key at old._domainkey.{DOMAIN}" in found["DKIM"][1]
    )
    assert found["DMARC"][0] == "fail" and "v=DMARC1; p=none" in found["DMARC"][1]
    assert found["broker"][0] == "fail" and "is it running?" in found["broker"][1]


def test_no_dns_answer_is_could_not_resolve(ready: tuple[Settings, sessionmaker[Session]]) -> None:
    settings, factory = ready
    silent = dns.resolver.Resolver(configure=False)
    silent.nameservers, silent.port, silent.lifetime = ["127.0.0.1"], free_port(), 1
    found = statuses(run_checks(settings, factory, silent))
    for name in ("SPF", "DKIM", "DMARC"):
        assert found[name][0] == "warn" and found[name][1].startswith("could not resolve: ")
    no_resolver = statuses(run_checks(settings, factory, None))
    assert (
        no_resolver["SPF"][1] == "could not resolve: no DNS resolver is configured on this machine"
    )


def test_the_command_on_a_broken_instance(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real command with the machine's own resolver: this sandbox has no network, and the
    domain does not exist anyway, so DNS says "could not resolve", cleanly."""
    monkeypatch.setenv("PAPERPOST_MAIL_FROM", "digest@paperpost-doctor-check-7d1e4a.org")
    monkeypatch.setenv("PAPERPOST_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("PAPERPOST_PUBLIC_BASE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv(
        "PAPERPOST_DATABASE_URL", f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x"
    )
    code, out, err = cli("doctor", "--json")
    assert code == 1 and "checks failed: database, SMTP" in err
    found = {f["name"]: (f["status"], f["detail"]) for f in json.loads(out)}
    assert found["database"][0] == "fail" and "PAPERPOST_DATABASE_URL" in found["database"][1]
    assert found["SMTP"][0] == "fail" and "cannot talk to 127.0.0.1" in found["SMTP"][1]
    for name in ("SPF", "DKIM", "DMARC"):
        assert found[name][0] == "warn" and found[name][1].startswith("could not resolve")
    assert found["public URL"][0] == "warn" and "could not reach" in found["public URL"][1]
    code, out, _ = cli("doctor", "--offline", "--json")
    assert code == 1
    assert [f["name"] for f in json.loads(out)] == [
        "environment",
        "secret key",
        "admin email",
        "database",
        "broker",
    ]
    code, out, _ = cli("doctor", "--offline")
    assert code == 1 and "FAIL" in out and "PAPERPOST_DATABASE_URL" in out


def test_secret_key_and_environment_findings(settings: Settings) -> None:
    from service.observability.doctor import configuration

    short = statuses(configuration(settings.model_copy(update={"secret_key": "abc"})))
    assert short["secret key"] == ("fail", "only 3 characters: use 32 or more "
                                   "(secrets.token_urlsafe(48))")  # fmt: skip
    generated = settings.model_copy(update={"secret_key_generated": True})
    assert statuses(configuration(generated))["secret key"][0] == "warn"
    rotated = settings.model_copy(update={"old_secret_keys": ["o" * 40]})
    assert statuses(configuration(rotated))["secret key"] == ("ok", "46 characters, 1 older keys")
    found = statuses(configuration(settings))
    assert found["environment"][0] == "warn" and "development" in found["environment"][1]
    assert found["admin email"][0] == "warn"
