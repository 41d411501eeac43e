"""Provider feedback over HTTP, authenticated before anything is read:

- the generic format: ``{"events": [{"id", "type", "email", "message_id"?, "detail"?}]}``,
  signed ``X-Paperpost-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
  PAPERPOST_WEBHOOK_SECRET, accepted within five minutes of ``t``;
- Amazon SES through SNS: the SNS signature (version 1 SHA1, version 2 SHA256) verified against
  the signing certificate, fetched only from ``https://sns.<region>.amazonaws.com/...pem``, and
  only for the topics listed in PAPERPOST_SNS_TOPIC_ARNS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from service.config import Settings
from service.track.bounces import EventKind, FeedbackEvent, delivery_from_verp

TOLERANCE_SECONDS = 300
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
GENERIC_KINDS = {k.value: k for k in EventKind} | {"bounce": EventKind.hard_bounce}
Fetch = Callable[[str], bytes]


class WebhookRejected(ValueError):
    """The call is not authentic or not ours; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sign_generic(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_generic(secret: str | None, header: str | None, body: bytes, now: float) -> None:
    if not secret:
        raise WebhookRejected("the generic webhook is off: set PAPERPOST_WEBHOOK_SECRET", 404)
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError as exc:
        raise WebhookRejected("missing or malformed signature", 401) from exc
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise WebhookRejected("signature timestamp outside the tolerance", 401)
    expected = sign_generic(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise WebhookRejected("bad signature", 401)


def parse_generic(body: bytes) -> list[FeedbackEvent]:
    try:
        data = json.loads(body)
        items = data["events"] if isinstance(data, dict) and "events" in data else [data]
        return [_generic_event(item) for item in items]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected(f"malformed event: {exc}") from exc


def _generic_event(item: Mapping[str, Any]) -> FeedbackEvent:
    kind = GENERIC_KINDS[str(item["type"])]
    detail = {str(k): str(v)[:300] for k, v in dict(item.get("detail") or {}).items()}
    return FeedbackEvent(
        event_id=f"webhook:{item['id']}", kind=kind, address=item.get("email"),
        message_id=item.get("message_id"), source="webhook", detail=detail,
    )  # fmt: skip


SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise WebhookRejected("unknown SNS message type")
    lines = []
    for name in fields:
        if name in message and message[name] is not None:
            lines += [name, str(message[name])]
    return ("\n".join(lines) + "\n").encode()


def check_amazon_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or ""):
        raise WebhookRejected(f"refusing a URL outside Amazon SNS: {url[:100]}")


def verify_sns(message: Mapping[str, Any], settings: Settings, fetch: Fetch) -> None:
    if str(message.get("TopicArn")) not in settings.sns_topic_arns:
        raise WebhookRejected("SNS topic not accepted: add it to PAPERPOST_SNS_TOPIC_ARNS", 403)
    cert_url = str(message.get("SigningCertURL", ""))
    check_amazon_url(cert_url)
    if not cert_url.endswith(".pem"):
        raise WebhookRejected("the signing certificate URL is not a .pem")
    algorithm: hashes.HashAlgorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(  # noqa: S303
        str(message.get("SignatureVersion")), hashes.SHA256()
    )
    if str(message.get("SignatureVersion")) not in ("1", "2"):
        raise WebhookRejected("unsupported SNS signature version")
    try:
        pem = fetch(cert_url)
    except Exception as exc:  # network or HTTP failure: SNS retries on 503
        raise WebhookRejected(f"signing certificate unavailable: {exc}", 503) from exc
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except ValueError as exc:
        raise WebhookRejected(f"bad signing certificate or signature: {exc}", 401) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRejected("the signing certificate is not RSA")
    try:
        key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise WebhookRejected("bad SNS signature", 401) from exc


def parse_ses(message: Mapping[str, Any], settings: Settings) -> list[FeedbackEvent]:
    """Events in one SES notification (``notificationType``) or event (``eventType``)."""
    try:
        body = json.loads(str(message["Message"]))
        kind = str(body.get("notificationType") or body.get("eventType") or "")
        mail = body.get("mail") or {}
        return list(_ses_events(kind, body, mail, settings, str(message.get("MessageId"))))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected(f"malformed SES notification: {exc}") from exc


def _ses_events(
    kind: str, body: Mapping[str, Any], mail: Mapping[str, Any], settings: Settings, sns_id: str
) -> Iterator[FeedbackEvent]:
    delivery_id = delivery_from_verp(settings, str(mail.get("source", "")))
    message_id = (mail.get("commonHeaders") or {}).get("messageId") or _header(mail, "Message-ID")
    if kind == "Bounce":
        bounce = body["bounce"]
        permanent = bounce.get("bounceType") == "Permanent"
        event = EventKind.hard_bounce if permanent else EventKind.soft_bounce
        ref, people = str(bounce.get("feedbackId", sns_id)), bounce.get("bouncedRecipients", [])
    elif kind == "Complaint":
        complaint = body["complaint"]
        event, ref = EventKind.complaint, str(complaint.get("feedbackId", sns_id))
        people = complaint.get("complainedRecipients", [])
    elif kind == "Delivery":
        event, ref = EventKind.delivered, f"{mail.get('messageId', sns_id)}:delivery"
        people = [{"emailAddress": a} for a in body["delivery"].get("recipients", [])]
    else:
        return
    for person in people:
        address = str(person["emailAddress"])
        yield FeedbackEvent(
            event_id=f"ses:{ref}:{address}", kind=event, address=address,
            delivery_id=delivery_id, message_id=message_id, source="ses",
            detail={"status": str(person.get("status", "")),
                    "diagnostic": str(person.get("diagnosticCode", ""))[:300]},
        )  # fmt: skip


def _header(mail: Mapping[str, Any], name: str) -> str | None:
    for header in mail.get("headers") or []:
        if str(header.get("name", "")).lower() == name.lower():
            return str(header.get("value"))
    return None
