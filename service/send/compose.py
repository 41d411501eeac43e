"""Build the bytes of a message: multipart/alternative (text first), the list headers of
RFC 2369 and RFC 8058, a Message-ID fixed per delivery, and header values that cannot inject
(CVE-2024-6923: encoded-word newlines, bare CR/LF, NUL). Every message passes ``check_headers``
(D03) before it leaves."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from service.render.views import RenderedEmail

SMTP_POLICY = policy.SMTP.clone(max_line_length=78)
_BIDI_AND_CONTROL = re.compile(
    r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\x85]"
)
_ENCODED_WORD = re.compile(r"=\?", re.ASCII)


class HeaderCheckError(ValueError):
    """A built message broke the byte-level header rules; it must not be sent."""


@dataclass(frozen=True, slots=True)
class Envelope:
    message_id: str  # without angle brackets: "<id>@<domain>" is built here
    from_address: str
    from_name: str
    to_address: str
    date: dt.datetime
    list_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    feedback_id: str
    return_path: str | None = None


def clean_header(value: str, limit: int = 200) -> str:
    """One line, no control or bidi characters, no encoded-word trigger, bounded length."""
    text = unicodedata.normalize("NFC", value)
    text = _BIDI_AND_CONTROL.sub(" ", text)
    text = _ENCODED_WORD.sub("= ?", text)
    text = " ".join(text.split())
    return text[:limit]


def compose_message(rendered: RenderedEmail, env: Envelope, text_only: bool = False) -> bytes:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = Address(clean_header(env.from_name, 64), addr_spec=env.from_address)
    msg["To"] = env.to_address
    msg["Subject"] = clean_header(rendered.subject, 150)
    msg["Date"] = format_datetime(env.date.astimezone(dt.UTC))
    msg["Message-ID"] = f"<{env.message_id}>"
    msg["List-Id"] = f"<{env.list_id}>"
    msg["List-Unsubscribe"] = f"<{env.unsubscribe_url}>, <{env.unsubscribe_mailto}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Feedback-ID"] = env.feedback_id
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if not text_only:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    raw = msg.as_bytes(policy=SMTP_POLICY)
    check_headers(raw)
    return raw


SINGLE = ("from", "to", "subject", "date", "message-id", "mime-version", "content-type",
          "list-id", "list-unsubscribe", "list-unsubscribe-post", "feedback-id")  # fmt: skip
ALLOWED = {*SINGLE, "content-transfer-encoding", "dkim-signature"}


def check_headers(raw: bytes) -> None:
    """D03: CRLF only, no NUL, lines <= 998, continuations indented, the expected header set,
    each single-instance header exactly once."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        raise HeaderCheckError("no blank line after the header block")
    if b"\x00" in head:
        raise HeaderCheckError("NUL byte in headers")
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            raise HeaderCheckError("bare CR or LF in headers")
        if len(line) > 998:
            raise HeaderCheckError("header line longer than 998 bytes")
        if line[:1] in (b" ", b"\t"):
            if not names:
                raise HeaderCheckError("continuation line before any header")
            continue
        field, colon, _ = line.partition(b":")
        if not colon or not field or not re.fullmatch(rb"[!-9;-~]+", field):
            raise HeaderCheckError(f"malformed header line {line[:40]!r}")
        names.append(field.decode("ascii").lower())
    unknown = set(names) - ALLOWED
    if unknown:
        raise HeaderCheckError(f"unexpected headers: {sorted(unknown)}")
    for single in SINGLE:
        if names.count(single) != 1:
            raise HeaderCheckError(f"header {single} appears {names.count(single)} times")
