"""Build the bytes of a message: multipart/alternative (text first), the list headers of
RFC 2369 and RFC 8058, a Message-ID fixed per delivery, header values that cannot inject
(CVE-2024-6923), an optional DKIM signature over the exact bytes sent. Every message passes
``check_headers`` (D03) before it leaves; ``check_body`` and ``reparse`` (the full parse with
the stdlib) runs in the tests and on a sample of real sends.

The MIME structure is assembled by hand: the stdlib ``EmailMessage`` build and serialise cost
more than rendering the whole digest, and its folding is where the header bugs live.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from service.render.views import RenderedEmail
from service.send.headers import (
    HeaderValueError,
    angle_uri,
    clean_header,
    fold,
    mailbox,
    phrase,
    unstructured,
)

__all__ = [
    "Envelope",
    "HeaderCheckError",
    "HeaderValueError",
    "check_body",
    "check_headers",
    "clean_header",
    "compose_message",
    "expected_headers",
    "reparse",
]

MAX_LINE = 998
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
SUBJECT_LIMIT = 150
BASE_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
)
LIST_HEADERS = frozenset({"list-id", "list-unsubscribe", "list-unsubscribe-post"})
Signer = Callable[[bytes], bytes]


class HeaderCheckError(ValueError):
    """A built message broke the byte-level rules; it must not be sent."""


@dataclass(frozen=True, slots=True)
class Envelope:
    message_id: str  # without angle brackets: "<hex>@<domain>"
    from_address: str
    from_name: str
    to_address: str
    date: dt.datetime
    list_id: str  # "" for mail that is not list mail
    unsubscribe_url: str  # "" for transactional mail: then no List-* headers at all
    unsubscribe_mailto: str
    feedback_id: str
    return_path: str | None = None

    @property
    def is_list_mail(self) -> bool:
        return bool(self.unsubscribe_url)


def expected_headers(
    env: Envelope, text_only: bool = False, signed: bool = False
) -> frozenset[str]:
    """The exact header names a message for ``env`` carries (each exactly once)."""
    names = set(BASE_HEADERS)
    if env.feedback_id:
        names.add("feedback-id")
    if env.is_list_mail:
        names |= LIST_HEADERS
    if text_only:
        names.add("content-transfer-encoding")
    if signed:
        names.add("dkim-signature")
    return frozenset(names)


def _header_block(subject: str, env: Envelope) -> list[str]:
    if "<" in env.message_id or ">" in env.message_id or not env.message_id.count("@") == 1:
        raise HeaderValueError(f"bad Message-ID {env.message_id[:80]!r}")
    lines = [
        f"From: {mailbox(env.from_name, env.from_address)}",
        f"To: {mailbox('', env.to_address)}",
        unstructured("Subject", subject, SUBJECT_LIMIT),
        f"Date: {format_datetime(env.date.astimezone(dt.UTC))}",
        f"Message-ID: {angle_uri(env.message_id)}",
        "MIME-Version: 1.0",
    ]
    if env.is_list_mail:
        list_name = phrase(env.from_name)
        list_id = angle_uri(env.list_id)
        lines.append(f"List-Id: {list_name} {list_id}" if list_name else f"List-Id: {list_id}")
        # U14: fold only between the two links, so a signer or relay has nothing to re-fold.
        links = [angle_uri(env.unsubscribe_url)]
        if env.unsubscribe_mailto:
            links[0] += ","
            links.append(angle_uri(env.unsubscribe_mailto))
        lines.append("List-Unsubscribe: " + "\r\n ".join(links))
        lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    if env.feedback_id:
        lines.append(fold("Feedback-ID", [clean_header(env.feedback_id, 120).replace(" ", "")]))
    return lines


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends; the input has none but LF (so no bare CR can come
    out), and the output lines are at most 76 bytes."""
    body = _lf(text).encode("utf-8")
    return binascii.b2a_qp(body, quotetabs=False, istext=True).replace(b"\n", b"\r\n")


def _html_part(html: str) -> tuple[bytes, str]:
    """HTML as 7bit (non-ASCII as character references) when every line fits; otherwise QP."""
    normal = _lf(html)
    data = normal.encode("ascii", "xmlcharrefreplace")
    if b"\x00" not in data and max(map(len, data.split(b"\n")), default=0) <= MAX_LINE:
        return data.replace(b"\n", b"\r\n"), "7bit"
    return _qp(normal), "quoted-printable"


def _boundary(env: Envelope, html: bytes) -> str:
    digest = hashlib.blake2b(env.message_id.encode(), digest_size=12).hexdigest()
    boundary = f"=_pp_{digest}"
    while boundary.encode() in html:
        boundary += "_"
    return boundary


def compose_message(
    rendered: RenderedEmail,
    env: Envelope,
    text_only: bool = False,
    *,
    signer: Signer | None = None,
    full_check: bool = False,
) -> bytes:
    """The message bytes, CRLF throughout by construction, checked: D03 on every message; the
    body check and the full re-parse when asked (tests, and a sample of real sends)."""
    head = _header_block(rendered.subject, env)
    text = _qp(rendered.text)
    if text_only:
        head += [
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
        ]
        raw = "\r\n".join(head).encode("ascii") + b"\r\n\r\n" + text
    else:
        html, cte = _html_part(rendered.html)
        boundary = _boundary(env, html)
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        raw = b"".join(
            (
                "\r\n".join(head).encode("ascii"),
                f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii"),
                text,
                f"\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: {cte}\r\n\r\n".encode("ascii"),
                html,
                f"\r\n--{boundary}--\r\n".encode("ascii"),
            )
        )
    if signer is not None:
        raw = signer(raw)
    expected = expected_headers(env, text_only, signed=signer is not None)
    check_headers(raw, expected)
    if full_check:
        check_body(raw)
        reparse(raw, expected, rendered, text_only)
    return raw


def check_headers(raw: bytes, expected: frozenset[str] | None = None) -> None:
    """D03: CRLF only, no NUL, no 8-bit byte, lines <= 998, continuations indented, exactly the
    expected header names (by default: at least the base set), each exactly once."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        raise HeaderCheckError("no blank line after the header block")
    if b"\x00" in head:
        raise HeaderCheckError("NUL byte in headers")
    if not head.isascii():
        raise HeaderCheckError("8-bit byte in headers")
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            raise HeaderCheckError("bare CR or LF in headers")
        if len(line) > MAX_LINE:
            raise HeaderCheckError("header line longer than 998 bytes")
        if line[:1] in (b" ", b"\t"):
            if not names or not line.strip():
                raise HeaderCheckError("continuation line before any header, or blank")
            continue
        field, colon, _ = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(field):
            raise HeaderCheckError(f"malformed header line {line[:40]!r}")
        names.append(field.decode("ascii").lower())
    found = set(names)
    if expected is not None and found != expected:
        missing, extra = sorted(expected - found), sorted(found - expected)
        raise HeaderCheckError(f"header set differs: missing {missing}, extra {extra}")
    if expected is None and not found >= BASE_HEADERS:
        raise HeaderCheckError(f"missing headers: {sorted(BASE_HEADERS - found)}")
    for name in found:
        if names.count(name) != 1:
            raise HeaderCheckError(f"header {name} appears {names.count(name)} times")


def check_body(raw: bytes, lines: bool = True) -> None:
    """D04 for the body: CRLF line ends only, no NUL, no line over 998 bytes (what
    ``compose_message`` guarantees as it encodes; checked with the full re-parse)."""
    _, _, body = raw.partition(b"\r\n\r\n")
    crlf = body.count(b"\r\n")
    if body.count(b"\n") != crlf or body.count(b"\r") != crlf:
        raise HeaderCheckError("bare CR or LF in the body")
    if b"\x00" in body:
        raise HeaderCheckError("NUL byte in the body")
    if lines and max(map(len, body.split(b"\r\n")), default=0) > MAX_LINE:
        raise HeaderCheckError("body line longer than 998 bytes")


def reparse(
    raw: bytes, expected: frozenset[str], rendered: RenderedEmail, text_only: bool = False
) -> EmailMessage:
    """The full check: the stdlib parser sees the same header set, no defects, the subject we
    meant, and parts that decode back to exactly the text and HTML we rendered."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    names = [k.lower() for k in msg.keys()]  # noqa: SIM118  (keys() lists repeats too)
    if set(names) != expected or len(names) != len(expected):
        raise HeaderCheckError(f"re-parse sees headers {sorted(msg.keys())}")
    parts = [msg] if text_only else list(msg.iter_parts())
    for part in (msg, *parts):
        if part.defects:
            raise HeaderCheckError(f"re-parse defects: {part.defects}")
    if str(msg["Subject"]) != clean_header(rendered.subject, SUBJECT_LIMIT):
        raise HeaderCheckError("re-parsed subject differs from the rendered one")
    types = [p.get_content_type() for p in parts]
    wanted = ["text/plain"] if text_only else ["text/plain", "text/html"]
    if types != wanted or (not text_only and msg.get_content_type() != "multipart/alternative"):
        raise HeaderCheckError(f"unexpected structure {msg.get_content_type()} {types}")
    bodies = [rendered.text] if text_only else [rendered.text, rendered.html]
    for part, body in zip(parts, bodies, strict=True):
        content = part.get_content()
        wanted_body = body.replace("\r\n", "\n").replace("\r", "\n")
        if part.get("Content-Transfer-Encoding") == "7bit":
            wanted_body = wanted_body.encode("ascii", "xmlcharrefreplace").decode("ascii")
        if content.replace("\r\n", "\n") != wanted_body:
            raise HeaderCheckError(f"{part.get_content_type()} part does not decode back")
    return msg
