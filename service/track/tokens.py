"""Signed, purpose-scoped tokens (itsdangerous). They carry an opaque subscriber id and the
subscriber's token secret, never an email address, and verify under every configured key so a
secret rotation does not break old links."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer


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
    keys: list[str], purpose: Purpose, subscriber_id: int, secret: str, nonce: str | None = None
) -> str:
    """``nonce`` names one request (a confirm link), so the link can be used once."""
    payload: list[int | str] = [subscriber_id, secret[:8], *([nonce] if nonce else [])]
    return _serializer(tuple(keys), purpose).dumps(payload)


@lru_cache(maxsize=64)
def _serializer(
    keys: tuple[str, ...], purpose: Purpose
) -> URLSafeSerializer | URLSafeTimedSerializer:
    """One serializer per key set and purpose: every digest signs two links."""
    if purpose is Purpose.unsubscribe:
        return URLSafeSerializer(list(keys), salt=purpose.value)
    return URLSafeTimedSerializer(list(keys), salt=purpose.value)


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
