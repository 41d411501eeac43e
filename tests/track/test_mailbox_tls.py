"""``paperpost bounces process`` reading a real Dovecot over IMAPS and POP3S on 127.0.0.1, its
certificate signed by a private CA named in the mailbox URL: an RFC 3464 bounce and an ARF
complaint suppress their addresses, the messages are marked processed on the server (seen, or
deleted over POP3) and a second run reads nothing. A certificate that does not verify, or a
refused login, is an error that leaves the mailbox untouched."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings
from service.store import ledger
from service.store.db import transaction
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.track.bounces import verp_address
from service.track.mailbox import open_source
from tests.pipeline.test_feedback import arf, dsn
from tests.servers import make_pki
from tests.track.imap_server import Dovecot, dovecot

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)
BOUNCE_DOMAIN = "bounces.paperpost.example"
OUT_OF_OFFICE = (
    b"From: x@example.org\r\nTo: digest@paperpost.example\r\nSubject: away\r\n\r\naway\r\n"
)


@pytest.fixture
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


@pytest.fixture
def sent(factory: Factory, settings: Settings) -> list[tuple[int, str, str]]:
    """Two digests already sent: (delivery id, address, Message-ID)."""
    out = []
    with transaction(factory) as session:
        for i in range(2):
            person = Subscriber(email=f"p{i}@example.org", status=SubscriberStatus.active,
                                created_at=T0, updated_at=T0)  # fmt: skip
            session.add(person)
            session.flush()
            did = ledger.insert_delivery(session, kind=DeliveryKind.digest,
                                         domain="paperpost.example", now=T0,
                                         subscriber_id=person.id, edition_key="2026-09-21")  # fmt: skip
            assert did is not None
            ledger.finish(session, did, DeliveryStatus.sent, now=T0, code=250)
            delivery = session.get(Delivery, did)
            assert delivery is not None
            out.append((did, person.email, delivery.message_id))
    return out


def deliver_reports(server: Dovecot, settings: Settings, sent: list[tuple[int, str, str]]) -> None:
    """A hard bounce tied by its VERP return path, a complaint tied by the Message-ID of the
    returned message, and a mail that is neither."""
    (d0, a0, _), (_, a1, m1) = sent
    verp = verp_address(settings.model_copy(update={"bounce_domain": BOUNCE_DOMAIN}), d0)
    server.deliver(dsn(verp or "", a0, "failed", "5.1.1", None, n=1))
    server.deliver(arf("fbl@paperpost.example", a1, m1, n=2))
    server.deliver(OUT_OF_OFFICE)


def process(settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str) -> Result:
    for name, value in (("DATABASE_URL", settings.database_url),
                        ("SECRET_KEY", settings.secret_key),
                        ("BOUNCE_DOMAIN", BOUNCE_DOMAIN),
                        ("BOUNCE_MAILBOX", url)):  # fmt: skip
        monkeypatch.setenv(f"PAPERPOST_{name}", value)
    return CliRunner().invoke(cli, ["bounces", "process", "--json"])


def counts(result: Result) -> dict[str, int]:
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def suppressed(factory: Factory) -> dict[str, str]:
    with factory() as session:
        return dict(session.execute(select(Suppression.email, Suppression.reason)).tuples().all())


def maildir_state(server: Dovecot) -> list[tuple[str, str]]:
    """(subfolder, flags) of every message on the server."""
    box = mailbox.Maildir(server.root / "Maildir", factory=None, create=False)
    return sorted((m.get_subdir(), m.get_flags()) for m in box)


@pytest.mark.parametrize("scheme", ["imaps", "pop3s"])
def test_bounces_process_reads_the_mailbox_over_tls_once(
    server: Dovecot,
    factory: Factory,
    settings: Settings,
    sent: list[tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
) -> None:
    deliver_reports(server, settings, sent)
    url = server.url(scheme, ca_file=server.pki.ca_file)
    first = counts(process(settings, monkeypatch, url))
    assert (first["messages"], first["suppressed"], first["not_reports"]) == (3, 2, 1), first
    assert suppressed(factory) == {sent[0][1]: "hard_bounce", sent[1][1]: "complaint"}
    with factory() as session:
        statuses = set(session.scalars(select(Subscriber.status)))
    assert statuses == {SubscriberStatus.suppressed}
    # Processed on the server: flagged seen over IMAP, deleted over POP3.
    assert maildir_state(server) == ([("cur", "S")] * 3 if scheme == "imaps" else [])
    again = counts(process(settings, monkeypatch, url))
    assert (again["messages"], again["events"]) == (0, 0)
    assert "Login: user=<bounces>" in server.log() and "TLS" in server.log()


@pytest.mark.parametrize("scheme", ["imaps", "pop3s"])
def test_a_certificate_that_does_not_verify_leaves_the_mailbox_untouched(
    server: Dovecot,
    factory: Factory,
    settings: Settings,
    sent: list[tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheme: str,
) -> None:
    deliver_reports(server, settings, sent)
    for ca_file in (make_pki(tmp_path / "other").ca_file, None):  # another CA, the system's
        result = process(settings, monkeypatch, server.url(scheme, ca_file=ca_file))
        assert result.exit_code == 1, result.output
        assert "cannot open the bounce mailbox" in result.output
        assert "CERTIFICATE_VERIFY_FAILED" in result.output
    assert suppressed(factory) == {}
    assert maildir_state(server) == [("new", "")] * 3
    assert "Login: user=" not in server.log()


@pytest.mark.parametrize(("scheme", "said"), [("imaps", "IMAP server"), ("pop3s", "POP3 server")])
def test_a_refused_login_is_an_error_not_a_crash(
    server: Dovecot,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
    said: str,
) -> None:
    server.deliver(OUT_OF_OFFICE)
    url = server.url(scheme, password="wrong", ca_file=server.pki.ca_file)
    result = process(settings, monkeypatch, url)
    assert result.exit_code == 1, result.output
    assert "cannot open the bounce mailbox" in result.output and said in result.output
    assert maildir_state(server) == [("new", "")]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("imap://u:p@127.0.0.1:9/INBOX?ca_file=/etc/ca.pem", "ca_file needs TLS"),
        ("pop3://u:p@127.0.0.1:9?ca_file=/etc/ca.pem", "ca_file needs TLS"),
        ("imaps://u:p@127.0.0.1:9/INBOX?verify=no", "unknown mailbox URL option"),
    ],
)
def test_mailbox_url_options_are_checked_before_connecting(url: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        open_source(url)
