"""Parse bounce and complaint mail into feedback events: delivery status notifications
(RFC 3464, ``multipart/report; report-type=delivery-status``) and abuse reports (ARF, RFC 5965,
``report-type=feedback-report``). Pure functions of the bytes.

The delivery is found from the VERP return path the report was sent to, else from the
Message-ID of the returned original (``message/rfc822`` or ``text/rfc822-headers``)."""

from __future__ import annotations

import email
import hashlib
from collections.abc import Iterator
from email import policy
from email.message import Message
from email.parser import HeaderParser

from service.config import Settings
from service.track.bounces import EventKind, FeedbackEvent, delivery_from_verp

ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "To")


def parse_report(raw: bytes, settings: Settings) -> list[FeedbackEvent]:
    """Events in one message; [] for mail that is not a report (or not ours)."""
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    report_id = (msg.get("Message-ID") or "").strip() or hashlib.sha256(raw).hexdigest()
    delivery_id = _verp_delivery(msg, settings)
    original = _original_message_id(msg)
    if msg.get_content_type() != "multipart/report":
        return []
    report_type = str(msg.get_param("report-type") or "").lower()
    if report_type == "delivery-status":
        return list(_dsn_events(msg, report_id, delivery_id, original))
    if report_type == "feedback-report":
        return _arf_events(msg, report_id, delivery_id, original)
    return []


def _verp_delivery(msg: Message, settings: Settings) -> int | None:
    for name in ENVELOPE_HEADERS:
        for value in msg.get_all(name) or []:
            for part in str(value).split(","):
                found = delivery_from_verp(settings, part.strip().rsplit(" ", 1)[-1])
                if found is not None:
                    return found
    return None


def _original_message_id(msg: Message) -> str | None:
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                value = inner[0].get("Message-ID")
                if value:
                    return str(value).strip().strip("<>")
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            text = text if isinstance(text, bytes) else b""
            value = HeaderParser().parsestr(text.decode("utf-8", "replace")).get("Message-ID")
            if value:
                return str(value).strip().strip("<>")
    return None


def _fields(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or ``message/feedback-report``."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    return [HeaderParser().parsestr(block) for block in text.replace("\r\n", "\n").split("\n\n")]


def _dsn_events(
    msg: Message, report_id: str, delivery_id: int | None, original: str | None
) -> Iterator[FeedbackEvent]:
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _fields(part)[1:]:  # the first block describes the reporting MTA
            kind = _dsn_kind(str(block.get("Action", "")), str(block.get("Status", "")))
            recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
            if kind is None:
                continue
            yield FeedbackEvent(
                event_id=f"dsn:{report_id}:{recipient or ''}",
                kind=kind, address=recipient, delivery_id=delivery_id, message_id=original,
                source="dsn",
                detail={"status": str(block.get("Status", "")).strip(),
                        "diagnostic": str(block.get("Diagnostic-Code", "")).strip()[:300]},
            )  # fmt: skip


def _dsn_kind(action: str, status: str) -> EventKind | None:
    action, status = action.strip().lower(), status.strip()
    if action in ("delivered", "relayed", "expanded"):
        return EventKind.delivered
    if action == "delayed" or status.startswith("4"):
        return EventKind.soft_bounce
    if action != "failed":
        return None
    # Mailbox full and policy blocks are not the address's fault: soft.
    if status == "5.2.2" or status.startswith("5.7"):
        return EventKind.soft_bounce
    return EventKind.hard_bounce


def _arf_events(
    msg: Message, report_id: str, delivery_id: int | None, original: str | None
) -> list[FeedbackEvent]:
    for part in msg.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        blocks = _fields(part)
        fields = blocks[0] if blocks else Message()
        recipient = _address(fields.get("Original-Rcpt-To")) or _returned_to(msg)
        feedback = str(fields.get("Feedback-Type", "abuse")).strip().lower()
        if feedback not in ("abuse", "fraud", "virus", "other"):
            return []
        return [
            FeedbackEvent(
                event_id=f"arf:{report_id}", kind=EventKind.complaint, address=recipient,
                delivery_id=delivery_id, message_id=original, source="arf",
                detail={"feedback_type": feedback,
                        "user_agent": str(fields.get("User-Agent", ""))[:100]},
            )
        ]  # fmt: skip
    return []


def _returned_to(msg: Message) -> str | None:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return _address(inner[0].get("To"))
    return None


def _address(value: object) -> str | None:
    """``rfc822; ada@example.org`` or ``<ada@example.org>`` -> ``ada@example.org``."""
    if not value:
        return None
    text = str(value).split(";", 1)[-1].strip().strip("<>").strip()
    return text if "@" in text else None
