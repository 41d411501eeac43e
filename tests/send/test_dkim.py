"""DKIM with dkimpy over the exact bytes sent: D10 (h= covers the list headers, oversigned),
D11 (tampering breaks it), U14 (a relay's re-folding does not)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import dkim
import pytest

from service.config import Settings
from service.content import compose_for
from service.render.views import RenderedEmail
from service.send.compose import check_headers, compose_message, expected_headers
from service.send.dkim import DkimError, DkimKey, dns_record, header_list, load_key, sign
from tests.send.test_compose import ENV, HTML, TEXT

DATA = Path(__file__).parent / "data"
KEY = load_key("pp2026", "paperpost.example", DATA / "dkim-test-2048.pem")
D10 = "from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post:mime-version:content-type"


def dns(key: DkimKey = KEY):  # type: ignore[no-untyped-def]
    record = dns_record(key).encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{key.selector}._domainkey.{key.domain}.".encode()
        return record

    return lookup


def signed(rendered: RenderedEmail | None = None, env=ENV) -> bytes:  # type: ignore[no-untyped-def]
    message = rendered or RenderedEmail("7 new papers · Thu 27 Nov", TEXT, HTML)
    return compose_message(message, env, signer=lambda raw: sign(raw, KEY), full_check=True)


def h_tag(raw: bytes) -> list[str]:
    head = raw.partition(b"\r\n\r\n")[0].decode()
    unfolded = re.sub(r"\r\n[ \t]+", " ", head)
    value = re.search(r"DKIM-Signature:.*?\bh=([^;]+);", unfolded)
    assert value
    return [h.strip() for h in value.group(1).split(":")]


def test_signature_verifies_with_the_published_key() -> None:
    raw = signed()
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert b" d=paperpost.example; i=@paperpost.example; q=dns/txt; s=pp2026;" in raw
    assert dkim.verify(raw, dnsfunc=dns())
    check_headers(raw, expected_headers(ENV, signed=True))


def test_d10_h_covers_the_list_headers_and_oversigns_them() -> None:
    names = h_tag(signed())
    for name in D10.split(":"):
        assert name in names, name
    assert names.count("list-unsubscribe") == 2 and names.count("list-unsubscribe-post") == 2
    assert names.count("from") == 2 and names.count("subject") == 2


def test_d11_changing_the_unsubscribe_link_breaks_it() -> None:
    raw = signed()
    tampered = raw.replace(b"unsubscribe/WzEsImFi", b"unsubscribe/XzEsImFi", 1)
    assert tampered != raw and not dkim.verify(tampered, dnsfunc=dns())


def test_d11_a_prepended_list_unsubscribe_breaks_it_only_when_oversigned() -> None:
    raw = signed()
    extra = b"List-Unsubscribe: <https://evil.example/u>\r\n"
    head, sep, body = raw.partition(b"\r\n\r\n")
    sig_end = head.index(b"\r\nFrom:") + 2
    attacked = head[:sig_end] + extra + head[sig_end:] + sep + body
    assert not dkim.verify(attacked, dnsfunc=dns())
    # Without oversigning the same attack verifies: why both list headers are named twice.
    unsigned = compose_message(RenderedEmail("s", TEXT, HTML), ENV)
    single = [h.encode() for h in dict.fromkeys(header_list(unsigned))]
    weak = dkim.sign(unsigned, b"pp2026", b"paperpost.example", KEY.private_key,
                     canonicalize=(b"relaxed", b"relaxed"), include_headers=single)  # fmt: skip
    weak_raw = weak + unsigned
    w_head, w_sep, w_body = weak_raw.partition(b"\r\n\r\n")
    w_end = w_head.index(b"\r\nFrom:") + 2
    assert dkim.verify(w_head[:w_end] + extra + w_head[w_end:] + w_sep + w_body, dnsfunc=dns())


def test_u14_a_relay_refolding_list_unsubscribe_keeps_it_valid() -> None:
    raw = signed()
    refolded = raw.replace(b">,\r\n <mailto:", b">, <mailto:", 1)
    assert refolded != raw and dkim.verify(refolded, dnsfunc=dns())


def test_a_body_change_breaks_it() -> None:
    raw = signed()
    assert not dkim.verify(raw.replace(b"a text part", b"a texT part", 1), dnsfunc=dns())


def test_transactional_mail_is_signed_too() -> None:
    env = replace(ENV, list_id="", unsubscribe_url="", unsubscribe_mailto="")
    raw = signed(env=env)
    assert dkim.verify(raw, dnsfunc=dns()) and "list-unsubscribe" not in h_tag(raw)


def test_compose_for_signs_when_configured(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"dkim_selector": "pp2026", "dkim_private_key": DATA / "dkim-test-2048.pem",
                "dkim_domain": "paperpost.example"}
    )  # fmt: skip
    rendered = RenderedEmail("Alert", TEXT, HTML)
    composed = compose_for(configured, rendered, None, "x@paperpost.example", ENV.date, "alert",
                           "ops@example.org", full_check=True)  # fmt: skip
    assert composed.data.startswith(b"DKIM-Signature:") and dkim.verify(
        composed.data, dnsfunc=dns()
    )
    plain = compose_for(settings, rendered, None, "x@paperpost.example", ENV.date, "alert",
                        "ops@example.org")  # fmt: skip
    assert not plain.data.startswith(b"DKIM-Signature:")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (DATA / "missing.pem", "cannot read"),
        (DATA / "dkim-test-512.pem", "512 bits"),
        (Path(__file__), "not an RSA private key"),
    ],
)
def test_unusable_keys_are_refused_with_a_reason(path: Path, message: str) -> None:
    with pytest.raises(DkimError, match=message):
        load_key.__wrapped__("s", "paperpost.example", path)


def test_the_dns_record_is_the_public_half() -> None:
    record = dns_record(KEY)
    assert record.startswith("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
