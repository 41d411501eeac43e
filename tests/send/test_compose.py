"""Message bytes: header values that cannot inject (CVE-2024-6923), folding we choose (U14),
the byte-level header check D03 on every message, and the full re-parse."""

from __future__ import annotations

import datetime as dt
import email
import re
from dataclasses import replace
from email import policy
from email.header import decode_header

import pytest

from service.render.views import RenderedEmail
from service.send.compose import (
    Envelope,
    HeaderCheckError,
    HeaderValueError,
    check_body,
    check_headers,
    clean_header,
    compose_message,
    expected_headers,
    reparse,
)
from service.send.headers import encoded_words, phrase, unstructured

UNSUB = "https://paperpost.example/unsubscribe/WzEsImFiY2RlZjAxIl0.AbCdEfGhIjKlMnOpQrStUvWxYz0"
ENV = Envelope(
    message_id="abc123@paperpost.example",
    from_address="digest@paperpost.example",
    from_name="paperpost",
    to_address="ada@example.org",
    date=dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC),
    list_id="digest.paperpost.example",
    unsubscribe_url=UNSUB,
    unsubscribe_mailto="mailto:unsubscribe@paperpost.example?subject=unsubscribe%20WzEsImFi",
    feedback_id="digest:paperpost.example",
)
TEXT = "Hello — a text part with ünïcode.\n"
HTML = "<!DOCTYPE html><html><body><p>Hello — ünïcode</p></body></html>\n"


def build(subject: str = "7 new papers", env: Envelope = ENV, **kw: object) -> bytes:
    return compose_message(RenderedEmail(subject, TEXT, HTML), env, full_check=True, **kw)  # type: ignore[arg-type]


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


@pytest.mark.parametrize(
    "subject",
    [
        "=?UTF-8?Q?=0A?=Bcc: x@evil.example",  # CVE-2024-6923
        "=?utf-8?b?CkJjYzogeEBldmlsLmV4YW1wbGU=?=",
        "hello\nBcc: x@evil.example",
        "hello\r\nBcc: x@evil.example",
        "hello\rBcc: x@evil.example",
        "nul\x00byte",
        "bidi \u202eevil\u202c and \u2066isolate\u2069",
        "line\u2028separator\u0085next",
        "trailing newline\n",
        "zero\u200bwidth",
    ],
)
def test_hostile_subjects_cannot_add_headers(subject: str) -> None:
    raw = build(subject)
    head = raw.partition(b"\r\n\r\n")[0]
    assert not re.search(rb"(?im)^bcc:", head)
    msg = parse(raw)
    assert msg.get_all("Bcc") is None
    shown = str(msg["Subject"])
    assert shown == clean_header(subject)
    assert not re.search(r"[\x00-\x1f\x7f\x85\u200b\u2028\u202a-\u202e\u2066-\u2069]", shown)
    again = parse(msg.as_bytes(policy=policy.SMTP))  # a stdlib relay re-serialising it
    assert again.get_all("Bcc") is None and "\n" not in str(again["Subject"])


def test_text_that_looks_like_an_encoded_word_is_encoded() -> None:
    raw = build("=?UTF-8?Q?=0A?=Bcc: x")
    subject_line = re.search(rb"Subject: (.*?)\r\n(?! )", raw, re.S)
    assert subject_line and b"=?utf-8?q?=3D=3FUTF-8=3FQ=3F=3D0A=3F=3D" in subject_line.group(1)
    assert str(parse(raw)["Subject"]) == "=?UTF-8?Q?=0A?=Bcc: x"


def test_non_ascii_subjects_are_encoded_words_that_never_split_a_character() -> None:
    subject = "7 new papers on 拡散モデル, Ünïcode and émoji 🧪 · Thu 27 Nov " * 2
    words = encoded_words(subject)
    assert all(len(w) <= 75 for w in words)
    for word in words:  # each word decodes on its own: no character was cut in two
        ((data, charset),) = decode_header(word)
        assert isinstance(data, bytes) and charset == "utf-8"
        data.decode("utf-8")
    raw = build(subject)
    assert str(parse(raw)["Subject"]) == clean_header(subject, 150)
    header = re.search(rb"Subject: .*?\r\n(?! )", raw, re.S)
    assert header and all(len(line) <= 78 for line in header.group(0).split(b"\r\n"))


def test_long_ascii_subjects_fold_at_spaces() -> None:
    subject = "A subject with many plain words that is long enough to need folding twice " * 2
    header = unstructured("Subject", subject)
    assert all(len(line) <= 78 for line in header.split("\r\n")) and "\r\n " in header


def test_list_unsubscribe_folds_only_between_its_two_links() -> None:
    raw = build()
    expected = f"List-Unsubscribe: <{UNSUB}>,\r\n <{ENV.unsubscribe_mailto}>\r\n".encode()
    assert expected in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    msg = parse(raw)
    assert re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"])) == [
        UNSUB, ENV.unsubscribe_mailto,
    ]  # fmt: skip


def test_structure_text_first_html_last_utf8() -> None:
    msg = parse(build())
    assert msg["MIME-Version"] == "1.0" and msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert text.get_content().replace("\r\n", "\n") == TEXT
    assert html["Content-Transfer-Encoding"] == "7bit"  # ASCII with character references
    assert "&#8212;" in html.get_content() and "—" not in html.get_content()


def test_html_with_a_line_over_998_bytes_goes_quoted_printable() -> None:
    long_html = "<p>" + "word " * 400 + "</p>\n"
    raw = compose_message(RenderedEmail("s", TEXT, long_html), ENV, full_check=True)
    html = list(parse(raw).iter_parts())[1]
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert html.get_content().replace("\r\n", "\n") == long_html
    check_body(raw)


def test_display_names_are_phrases() -> None:
    assert phrase("paperpost") == "paperpost"
    assert phrase('Lab "A", Inc.') == '"Lab \\"A\\", Inc."'
    assert phrase("Café Papers").startswith("=?utf-8?q?")
    msg = parse(build(env=replace(ENV, from_name="Café, Papers <x@evil>")))
    assert msg["From"].addresses[0].addr_spec == "digest@paperpost.example"
    assert len(msg["From"].addresses) == 1


@pytest.mark.parametrize(
    "address",
    [
        "a b@example.org",
        "a@example.org, b@example.org",
        "a@example.org\r\nBcc: b",
        "jörg@example.org",
        "@example.org",
        "a..b@example.org",
    ],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(HeaderValueError):
        build(env=replace(ENV, to_address=address))


def test_transactional_mail_has_no_list_headers() -> None:
    env = replace(ENV, list_id="", unsubscribe_url="", unsubscribe_mailto="")
    msg = parse(build(env=env))
    assert not {"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"} & set(msg.keys())
    assert expected_headers(env) == frozenset(
        {"from", "to", "subject", "date", "message-id", "mime-version", "content-type",
         "feedback-id"}
    )  # fmt: skip


def test_text_only_message() -> None:
    raw = compose_message(RenderedEmail("s", TEXT, HTML), ENV, text_only=True, full_check=True)
    msg = parse(raw)
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == TEXT


def test_date_is_utc_and_message_id_is_the_deliverys() -> None:
    local = dt.datetime(2026, 11, 27, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    msg = parse(build(env=replace(ENV, date=local)))
    assert msg["Date"] == "Fri, 27 Nov 2026 09:00:00 +0000"
    assert msg["Message-ID"] == "<abc123@paperpost.example>"
    with pytest.raises(HeaderValueError):
        build(env=replace(ENV, message_id="a>\r\nBcc: x@y"))


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a\r\nFrom: b\r\n\r\nbody",
        b"From: a\nTo: b\r\n\r\nbody",
        b"From: a\x00\r\n\r\nbody",
        b"X" * 1000 + b": a\r\n\r\nbody",
        b"From a\r\n\r\n",
        b" continuation first\r\nFrom: a\r\n\r\n",
        b"Subject: caf\xc3\xa9\r\nFrom: a\r\n\r\n",
        b"From: a\r\nTo: b\r\nSubject: s\r\nDate: d\r\nMessage-ID: m\r\nMIME-Version: 1.0\r\n",
    ],
)
def test_header_check_rejects_broken_blocks(raw: bytes) -> None:
    with pytest.raises(HeaderCheckError):
        check_headers(raw)


def test_header_check_wants_exactly_the_expected_set() -> None:
    raw = build()
    check_headers(raw, expected_headers(ENV))
    with pytest.raises(HeaderCheckError, match="extra"):
        check_headers(b"X-Extra: 1\r\n" + raw, expected_headers(ENV))
    with pytest.raises(HeaderCheckError, match="missing"):
        check_headers(raw, expected_headers(ENV) | {"dkim-signature"})
    prepended = b"List-Unsubscribe: <https://evil.example/>\r\n" + raw
    with pytest.raises(HeaderCheckError, match="appears 2 times"):
        check_headers(prepended, expected_headers(ENV))


@pytest.mark.parametrize("body", [b"text\nbare LF", b"text\rbare CR", b"nul\x00", b"x" * 999])
def test_body_check_rejects_bad_lines(body: bytes) -> None:
    with pytest.raises(HeaderCheckError):
        check_body(b"From: a\r\n\r\n" + body + b"\r\n")


def test_reparse_catches_a_part_that_does_not_decode_back() -> None:
    rendered = RenderedEmail("7 new papers", TEXT, HTML)
    raw = compose_message(rendered, ENV)
    reparse(raw, expected_headers(ENV), rendered)
    with pytest.raises(HeaderCheckError):
        reparse(raw, expected_headers(ENV), replace(rendered, text="another text\n"))
    with pytest.raises(HeaderCheckError):
        reparse(raw.replace(b"text/html", b"text/xml"), expected_headers(ENV), rendered)
