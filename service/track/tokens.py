"""Signed, purpose-scoped tokens (itsdangerous). They carry an opaque subscriber id and the
subscriber's token secret, never an email address, and verify under every configured key so a
secret rotation does not break old links.

Unsubscribe links never expire and sit in the ``List-Unsubscribe`` header, which should not be
folded inside a URL (RELIABILITY.md U14), so their token is compact: 22 characters, the
subscriber id and an HMAC-SHA256 (truncated to 88 bits) of it and the subscriber's whole token
secret. It is checked against the subscriber's secret (``compact_matches``); the longer
itsdangerous form that earlier mails carry keeps working."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from enum import StrEnum
from functools import lru_cache
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)


class Purpose(StrEnum):
    confirm = "confirm"
    unsubscribe = "unsubscribe"
    prefs = "prefs"
    manage = "manage"  # short-lived: export and delete


MAX_AGE = {
    Purpose.confirm: 48 * 3600,
    Purpose.prefs: 30 * 86400,
    Purpose.manage: 3600,
}


class TokenError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" or "expired"


def make_token(
    keys: list[str],
    purpose: Purpose,
    subscriber_id: int,
    secret: str,
    nonce: str | None = None,
    *,
    issued_at: int | None = None,
) -> str:
    """``nonce`` names one request (a confirm link), so the link can be used once.
    ``issued_at`` (Unix seconds) signs a timed token as of that moment instead of now, so a
    mail rendered again for a retry carries the same link and the same bytes."""
    if purpose is Purpose.unsubscribe and nonce is None:
        raw = subscriber_id.to_bytes(_ID_BYTES, "big") + _mac(keys[0], subscriber_id, secret)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    payload: list[int | str] = [subscriber_id, secret[:8], *([nonce] if nonce else [])]
    if issued_at is not None and purpose is not Purpose.unsubscribe:
        return _issued_serializer(tuple(keys), purpose, issued_at).dumps(payload)
    return _serializer(tuple(keys), purpose).dumps(payload)


_ID_BYTES, _MAC_BYTES = 5, 11  # 16 bytes: 22 characters of base64url
COMPACT_LENGTH = 22


def _mac(key: str, subscriber_id: int, secret: str) -> bytes:
    message = f"paperpost/unsubscribe/{subscriber_id}/{secret}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def read_compact(purpose: Purpose, token: str) -> tuple[int, bytes] | None:
    """(subscriber id, MAC) of a compact unsubscribe token; None for any other token."""
    if purpose is not Purpose.unsubscribe or len(token) != COMPACT_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "==")
    except (ValueError, binascii.Error):
        return None
    if len(raw) != _ID_BYTES + _MAC_BYTES:
        return None
    return int.from_bytes(raw[:_ID_BYTES], "big"), raw[_ID_BYTES:]


def compact_matches(keys: list[str], subscriber_id: int, secret: str, mac: bytes) -> bool:
    """Whether a compact token's MAC was made by one of ``keys`` for this subscriber's secret."""
    return any(hmac.compare_digest(_mac(key, subscriber_id, secret), mac) for key in keys)


@lru_cache(maxsize=64)
def _serializer(
    keys: tuple[str, ...], purpose: Purpose
) -> URLSafeSerializer | URLSafeTimedSerializer:
    """One serializer per key set and purpose: every digest signs two links."""
    if purpose is Purpose.unsubscribe:
        return URLSafeSerializer(list(keys), salt=purpose.value)
    return URLSafeTimedSerializer(list(keys), salt=purpose.value)


class _IssuedSigner(TimestampSigner):
    """A timestamp signer whose clock is fixed at one moment."""

    def __init__(self, *args: Any, issued_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._issued_at = issued_at

    def get_timestamp(self) -> int:
        return self._issued_at


@lru_cache(maxsize=64)
def _issued_serializer(
    keys: tuple[str, ...], purpose: Purpose, issued_at: int
) -> URLSafeTimedSerializer:
    """Rows planned in one batch share their second, so a few serializers serve a window."""
    return URLSafeTimedSerializer(
        list(keys), salt=purpose.value, signer=_IssuedSigner,
        signer_kwargs={"issued_at": issued_at},
    )  # fmt: skip


def read_token(
    keys: list[str], purpose: Purpose, token: str, *, expired_ok: bool = False
) -> tuple[int, str]:
    """Return (subscriber id, secret prefix); raise TokenError. The caller compares the prefix
    with the subscriber's current secret, so rotating it revokes every token. ``expired_ok``
    checks only the signature (to mail a fresh link for an expired one)."""
    subscriber_id, secret, _nonce = read_token_nonce(keys, purpose, token, expired_ok=expired_ok)
    return subscriber_id, secret


def read_token_nonce(
    keys: list[str], purpose: Purpose, token: str, *, expired_ok: bool = False
) -> tuple[int, str, str]:
    """Like read_token, with the nonce ("" when the token has none)."""
    try:
        if purpose is Purpose.unsubscribe:
            payload = URLSafeSerializer(keys, salt=purpose.value).loads(token)
        else:
            payload = URLSafeTimedSerializer(keys, salt=purpose.value).loads(
                token, max_age=None if expired_ok else MAX_AGE[purpose]
            )
    except SignatureExpired as exc:
        raise TokenError("expired") from exc
    except BadSignature as exc:
        raise TokenError("invalid") from exc
    if (
        not isinstance(payload, list)
        or len(payload) not in (2, 3)
        or not isinstance(payload[0], int)
        or not all(isinstance(part, str) for part in payload[1:])
    ):
        raise TokenError("invalid")
    return payload[0], payload[1], payload[2] if len(payload) == 3 else ""
