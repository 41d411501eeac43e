"""Email address validation and normalisation (email-validator, strict), and the hash kept for
suppressions of erased people."""

from __future__ import annotations

import hashlib
import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_INPUT = 1_000


class InvalidAddress(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """The canonical form we store and compare: validated, NFC, lower-cased (IDNA handled by
    email-validator), so ``Ada@Example.org`` and ``ada@example.org`` are one subscriber.
    Raises InvalidAddress."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT or "\x00" in raw:
        raise InvalidAddress("not a valid email address")
    text = unicodedata.normalize("NFC", raw.strip())
    try:
        info = validate_email(text, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{raw.strip()[:80]!r} is not a valid email address: {exc}") from exc
    if len(info.normalized) > 254:
        raise InvalidAddress("address longer than 254 characters")
    return f"{info.local_part}@{info.domain}".lower()


def ascii_address(email: str) -> str:
    """The address to put on the wire: the domain in punycode."""
    local, _, domain = email.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return email


def email_hash(email: str) -> str:
    return hashlib.sha256(email.casefold().encode("utf-8")).hexdigest()
