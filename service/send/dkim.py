"""DKIM signatures (dkimpy) over the exact bytes that are sent (RELIABILITY.md U4, U14, D10).

Signed when PAPERPOST_DKIM_SELECTOR and PAPERPOST_DKIM_PRIVATE_KEY are set (the domain defaults
to the From domain, which DMARC alignment wants). The headers of D10 are signed, and the ones a
forger would add a second copy of are oversigned (named once more than they occur), so a
prepended ``List-Unsubscribe`` breaks the signature. Canonicalization is relaxed/relaxed: a
relay that re-folds a header does not break it. Pure-Python RSA costs a few milliseconds per
message (see docs/benchmarks.md); a relay that signs (Postfix with OpenDKIM, SES...) can do
it instead, as long as its ``h=`` covers List-Unsubscribe-Post.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

SIGNED = (
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding", "list-id", "list-unsubscribe", "list-unsubscribe-post",
    "feedback-id",
)  # fmt: skip
OVERSIGNED = (
    "from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
    "list-unsubscribe-post",
)  # fmt: skip
MIN_BITS = 1024


class DkimError(ValueError):
    """The configured key cannot sign (unreadable, not RSA PEM, or too short)."""


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: str
    domain: str
    private_key: bytes  # PEM


def _present(raw: bytes) -> set[str]:
    head = raw.partition(b"\r\n\r\n")[0]
    return {
        line.partition(b":")[0].decode("ascii").lower()
        for line in head.split(b"\r\n")
        if line and line[:1] not in (b" ", b"\t")
    }


def header_list(raw: bytes) -> list[str]:
    """What ``h=`` names: every D10 header the message has, then the oversigned ones again."""
    present = _present(raw)
    signed = [h for h in SIGNED if h in present]
    return signed + [h for h in OVERSIGNED if h in present]


def sign(raw: bytes, key: DkimKey) -> bytes:
    """``raw`` with a DKIM-Signature header in front; the rest of the bytes are unchanged."""
    signature = dkim.sign(
        raw,
        key.selector.encode("ascii"),
        key.domain.encode("ascii"),
        key.private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[h.encode("ascii") for h in header_list(raw)],
        linesep=b"\r\n",
    )
    if not signature:
        raise DkimError("dkimpy returned no signature")
    return bytes(signature) + raw


@lru_cache(maxsize=8)
def load_key(selector: str, domain: str, path: Path) -> DkimKey:
    """Read and check the key once per process."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise DkimError(f"cannot read the DKIM key {path}: {exc.strerror}") from exc
    try:
        parsed = parse_pem_private_key(pem)
    except (UnparsableKeyError, ValueError, IndexError) as exc:
        raise DkimError(f"{path} is not an RSA private key in PEM form") from exc
    bits = int(parsed["modulus"]).bit_length()
    if bits < MIN_BITS:
        raise DkimError(f"the DKIM key {path} has {bits} bits; receivers need at least 1024")
    if not selector.replace("-", "").replace(".", "").isalnum() or not domain:
        raise DkimError(f"bad DKIM selector {selector!r} or domain {domain!r}")
    return DkimKey(selector, domain.lower(), pem)


def dns_record(key: DkimKey) -> str:
    """The TXT record to publish at ``<selector>._domainkey.<domain>``."""
    parsed = parse_pem_private_key(key.private_key)
    public = _public_der(int(parsed["modulus"]), int(parsed["publicExponent"]))
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode("ascii")


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_length(len(body)) + body


def _public_der(modulus: int, exponent: int) -> bytes:
    """SubjectPublicKeyInfo for an RSA key, as DNS records carry it."""
    rsa_key = _der_int(modulus) + _der_int(exponent)
    rsa_seq = b"\x30" + _der_length(len(rsa_key)) + rsa_key
    bitstring = b"\x03" + _der_length(len(rsa_seq) + 1) + b"\x00" + rsa_seq
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    body = algorithm + bitstring
    return b"\x30" + _der_length(len(body)) + body
