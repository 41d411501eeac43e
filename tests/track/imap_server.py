"""A real IMAP and POP3 server for tests: Dovecot (Debian's dovecot-imapd and dovecot-pop3d) run
in the foreground with a configuration of its own, unprivileged (as ``nobody`` when the tests run
as root), listening on 127.0.0.1 with implicit TLS only (a certificate from a throwaway CA) for
one passwd-file user whose mail is a Maildir in a temporary folder. Absent Dovecot makes the
tests skip with the reason, unless PAPERPOST_REQUIRE_SERVICES=1, where they fail."""

from __future__ import annotations

import grp
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.servers import Pki, free_port, make_pki, require

USER, PASSWORD = "bounces", "s3cret@pw/1"  # characters that need quoting in a URL

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/run/state
log_path = {root}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = required
ssl_cert = <{pki.cert_file}
ssl_key = <{pki.key_file}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
auth_mechanisms = plain
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home
}}
mail_location = maildir:{root}/Maildir
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
"""


@dataclass(frozen=True)
class Dovecot:
    root: Path
    pki: Pki
    imaps_port: int
    pop3s_port: int
    uid: int
    gid: int

    def url(self, scheme: str, password: str = PASSWORD, ca_file: Path | None = None) -> str:
        port = self.imaps_port if scheme == "imaps" else self.pop3s_port
        folder = "/INBOX" if scheme == "imaps" else ""
        query = f"?ca_file={quote(str(ca_file))}" if ca_file else ""
        return f"{scheme}://{USER}:{quote(password, safe='')}@127.0.0.1:{port}{folder}{query}"

    def deliver(self, raw: bytes) -> None:
        """Put a message in the user's Maildir, owned by the user as a local delivery would."""
        box = mailbox.Maildir(self.root / "Maildir", create=False)
        key = box.add(raw)
        path = self.root / "Maildir" / "new" / key
        os.chown(path, self.uid, self.gid)

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text()
        except OSError:
            return ""


def _account() -> tuple[str, str, int, int]:
    """Who Dovecot runs as: ourselves, or ``nobody`` when we are root (Dovecot refuses mail
    access as uid 0, and its login processes refuse to run as root)."""
    entry = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_uid, entry.pw_gid


def _prepare(root: Path) -> Dovecot:
    user, group, uid, gid = _account()
    pki = make_pki(root / "pki")
    server = Dovecot(root, pki, free_port(), free_port(), uid, gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "home").mkdir()
    mailbox.Maildir(root / "Maildir", create=True)
    ports = {"imaps": server.imaps_port, "pop3s": server.pop3s_port}
    config = CONFIG.format(root=root, pki=pki, user=user, group=group, uid=uid, gid=gid, **ports)
    (root / "dovecot.conf").write_text(config)
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
    return server


def _wait_listening(proc: subprocess.Popen[bytes], server: Dovecot) -> None:
    deadline = time.time() + 15
    for port in (server.imaps_port, server.pop3s_port):
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dovecot exited ({proc.returncode}):\n{server.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"dovecot is not listening:\n{server.log()}") from None
                time.sleep(0.05)


def _installed() -> str:
    """The dovecot binary, with its IMAP and POP3 servers."""
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    config = shutil.which("doveconf") or shutil.which("doveconf", path="/usr/bin:/usr/sbin")
    if binary is None or config is None:
        require("dovecot is not installed (Debian: dovecot-imapd dovecot-pop3d)")
        raise AssertionError  # unreachable
    found = subprocess.run([config, "-c", os.devnull, "-h", "libexec_dir"], capture_output=True,
                           text=True, check=False)  # fmt: skip
    missing = [p for p in ("imap", "pop3") if not (Path(found.stdout.strip()) / p).exists()]
    if missing:
        require(f"dovecot has no {' or '.join(missing)} server (Debian: dovecot-imapd, -pop3d)")
    return binary


@contextmanager
def dovecot() -> Iterator[Dovecot]:
    binary = _installed()
    # Not under pytest's tmp_path: its parents are private to us, and Dovecot runs as another
    # user when we are root.
    root = Path(tempfile.mkdtemp(prefix="paperpost-dovecot-"))
    try:
        server = _prepare(root)
        _, _, uid, gid = _account()
        proc = subprocess.Popen(
            [binary, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **({"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}),
        )
        try:
            _wait_listening(proc, server)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)
