from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest

from service.render.views import RenderedEmail
from service.send.compose import (
    Envelope,
    HeaderCheckError,
    check_headers,
    clean_header,
    compose_message,
)

ENV = Envelope(
    message_id="abc123@paperpost.example",
    from_address="digest@paperpost.example",
    from_name="paperpost",
    to_address="ada@example.org",
    date=dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC),
    list_id="digest.paperpost.example",
    unsubscribe_url="https://paperpost.example/unsubscribe/tok",
    unsubscribe_mailto="mailto:unsubscribe@paperpost.example?subject=unsubscribe%20tok",
    feedback_id="digest:paperpost.example",
)


@pytest.mark.parametrize(
    "subject",
    [
        "=?UTF-8?Q?=0A?=Bcc: x@evil.example",  # CVE-2024-6923
        "hello\nBcc: x@evil.example",
        "hello\r\nBcc: x@evil.example",
        "nul\x00byte",
        "bidi \u202eevil",
        "line\u2028separator",
        "trailing newline\n",
    ],
)
def test_hostile_subjects_cannot_add_headers(subject: str) -> None:
    raw = compose_message(RenderedEmail(subject, "text", "<p>html</p>"), ENV)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_all("Bcc") is None
    assert "\n" not in str(msg["Subject"]) and "\x00" not in str(msg["Subject"])
    assert sorted(set(msg.keys())) == sorted(msg.keys())  # no header twice


def test_clean_header_is_one_safe_line() -> None:
    assert clean_header("a\r\n b\u202e=?x?=") == "a b = ?x?="


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a\r\nFrom: b\r\n\r\nbody",
        b"From: a\nTo: b\r\n\r\nbody",
        b"From: a\x00\r\n\r\nbody",
        b"X" * 1000 + b": a\r\n\r\nbody",
        b"From a\r\n\r\n",
    ],
)
def test_header_check_rejects_broken_blocks(raw: bytes) -> None:
    with pytest.raises(HeaderCheckError):
        check_headers(raw)
