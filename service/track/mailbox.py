"""Where bounce and complaint mail is read from: a Maildir on disk, or an IMAP or POP3 mailbox
(``imaps://user:password@host/INBOX``, ``pop3s://user:password@host``). Each source yields the
raw messages not yet processed and marks one processed when told to: moved to ``cur`` and
flagged seen (Maildir), flagged seen (IMAP), or deleted (POP3).

Over ``imaps`` and ``pop3s`` the server's certificate and host name are always verified: against
the system's CAs, or against the PEM bundle named by ``?ca_file=/path/ca.pem`` at the end of
the URL, for a server with a private CA (as PostgreSQL URLs name theirs with ``sslrootcert``).
"""

from __future__ import annotations

import imaplib
import mailbox
import poplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Incoming:
    key: str
    data: bytes


class Source(Protocol):
    def messages(self) -> Iterator[Incoming]: ...

    def done(self, key: str) -> None: ...

    def close(self) -> None: ...


class MaildirSource:
    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir():
            raise FileNotFoundError(f"{path} is not a Maildir (no new/ folder)")
        self._box = mailbox.Maildir(path, factory=None, create=False)

    def messages(self) -> Iterator[Incoming]:
        for key in sorted(self._box.keys()):
            message = self._box.get_message(key)
            if "S" not in message.get_flags():
                yield Incoming(key, self._box.get_bytes(key))

    def done(self, key: str) -> None:
        message = self._box.get_message(key)
        message.set_subdir("cur")
        message.add_flag("S")
        self._box[key] = message

    def close(self) -> None:
        self._box.close()


class MailboxError(OSError):
    """The mailbox server refused the login or the folder."""


def _tls_context(parts: SplitResult) -> ssl.SSLContext | None:
    options = parse_qs(parts.query, keep_blank_values=True)
    if set(options) - {"ca_file"}:
        raise ValueError(f"unknown mailbox URL option in ?{parts.query} (only ca_file)")
    ca_file = options.get("ca_file", [""])[-1] or None
    if parts.scheme in ("imap", "pop3"):
        if ca_file:
            raise ValueError(f"ca_file needs TLS: {parts.scheme}s://, not {parts.scheme}://")
        return None
    return ssl.create_default_context(cafile=ca_file)


class ImapSource:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        context = _tls_context(parts)
        host, port = parts.hostname or "", parts.port or (993 if context else 143)
        self._imap = (
            imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
            if context
            else imaplib.IMAP4(host, port, timeout=timeout)
        )
        folder = unquote(parts.path.strip("/")) or "INBOX"
        try:
            self._imap.login(unquote(parts.username or ""), unquote(parts.password or ""))
            status, detail = self._imap.select(folder)
            if status != "OK":
                raise imaplib.IMAP4.error(f"cannot select {folder}: {detail}")
        except imaplib.IMAP4.error as exc:
            self._imap.shutdown()
            raise MailboxError(f"IMAP server {host}:{port}: {exc}") from exc

    def messages(self) -> Iterator[Incoming]:
        _, found = self._imap.search(None, "UNSEEN")
        for number in (found[0] or b"").split():
            _, data = self._imap.fetch(number.decode(), "(BODY.PEEK[])")
            raw = next((item[1] for item in data if isinstance(item, tuple)), b"")
            yield Incoming(number.decode(), bytes(raw))

    def done(self, key: str) -> None:
        self._imap.store(key, "+FLAGS", "\\Seen")

    def close(self) -> None:
        try:
            self._imap.close()
        finally:
            self._imap.logout()


class PopSource:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        context = _tls_context(parts)
        host, port = parts.hostname or "", parts.port or (995 if context else 110)
        self._pop: poplib.POP3 = (
            poplib.POP3_SSL(host, port, context=context, timeout=timeout)
            if context
            else poplib.POP3(host, port, timeout=timeout)
        )
        try:
            self._pop.user(unquote(parts.username or ""))
            self._pop.pass_(unquote(parts.password or ""))
        except poplib.error_proto as exc:
            self._pop.close()
            raise MailboxError(f"POP3 server {host}:{port}: {exc}") from exc

    def messages(self) -> Iterator[Incoming]:
        count, _ = self._pop.stat()
        for number in range(1, count + 1):
            _, lines, _ = self._pop.retr(number)
            yield Incoming(str(number), b"\r\n".join(lines) + b"\r\n")

    def done(self, key: str) -> None:
        self._pop.dele(int(key))

    def close(self) -> None:
        self._pop.quit()  # deletions take effect here


def open_source(spec: str) -> Source:
    scheme = urlsplit(spec).scheme
    if scheme in ("imap", "imaps"):
        return ImapSource(spec)
    if scheme in ("pop3", "pop3s"):
        return PopSource(spec)
    return MaildirSource(Path(spec))
