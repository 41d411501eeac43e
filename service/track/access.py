"""Which subscriber a link's token names: the signature and purpose (``tokens.py``), then the
subscriber's own secret prefix, so rotating that secret revokes every link issued before."""

from __future__ import annotations

import hmac

from sqlalchemy.orm import Session

from service.config import Settings
from service.store.models import Subscriber
from service.track.tokens import Purpose, TokenError, compact_matches, read_compact, read_token


def subscriber_for(
    session: Session, settings: Settings, purpose: Purpose, token: str, *, expired_ok: bool = False
) -> Subscriber:
    """The subscriber a token names; TokenError("invalid"|"expired"|"gone")."""
    compact = read_compact(purpose, token)
    if compact is not None:
        subscriber_id, mac = compact
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:  # erased (or never was: the answer, "nothing is sent", holds)
            raise TokenError("gone")
        if not compact_matches(settings.secret_keys(), subscriber.id, subscriber.token_secret, mac):
            raise TokenError("invalid")
        return subscriber
    subscriber_id, secret = read_token(
        settings.secret_keys(), purpose, token, expired_ok=expired_ok
    )
    return check_secret(session, subscriber_id, secret)


def check_secret(session: Session, subscriber_id: int, secret: str) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise TokenError("gone")
    if not hmac.compare_digest(subscriber.token_secret[:8], secret):
        raise TokenError("invalid")
    return subscriber
