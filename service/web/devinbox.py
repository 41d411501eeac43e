"""``/dev/inbox``: the development inbox's Maildir as web pages, so a person running paperpost
locally sees exactly what subscribers get (HTML in a sandboxed frame, text, source). Only when
PAPERPOST_DEV_INBOX is on; production refuses that setting."""

from __future__ import annotations

import email
import mailbox
import re
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from service.web.deps import SettingsDep
from service.web.pages import page
from service.web.views import InboxItem, InboxMessage, InboxPage

router = APIRouter(prefix="/dev/inbox", include_in_schema=False)

SHOWN_HEADERS = (
    "From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
    "List-Id", "Feedback-ID",
)  # fmt: skip
MAX_LISTED = 200
_LINK = re.compile(r"https?://[^\s<>\"')\]]+")
# The message's own HTML, shown in a frame that may run nothing and reach nothing but images.
FRAME_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; "
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)


def _maildir(settings_dir: Path) -> mailbox.Maildir:
    if not settings_dir.exists():
        raise HTTPException(404, "no mail yet")
    return mailbox.Maildir(settings_dir, factory=None, create=False)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _item(key: str, message: EmailMessage) -> InboxItem:
    try:
        date = parsedate_to_datetime(str(message["Date"])).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        date = ""
    feedback = str(message.get("Feedback-ID", ""))
    return InboxItem(
        key=key,
        date=date,
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        kind=feedback.split(":", 1)[0] if feedback else "",
    )


def _raw(settings_dir: Path, key: str) -> bytes:
    box = _maildir(settings_dir)
    try:
        with box.get_file(key) as handle:
            return bytes(handle.read())
    except (KeyError, OSError, ValueError) as exc:
        raise HTTPException(404, "no such message") from exc


def _enabled(settings: SettingsDep) -> Path:
    if not settings.dev_inbox:
        raise HTTPException(404, "development inbox is off")
    return settings.mail_dir


@router.get("")
def inbox(request: Request, settings: SettingsDep) -> HTMLResponse:
    folder = _enabled(settings)
    items: list[tuple[float, InboxItem]] = []
    for sub in ("new", "cur"):
        for path in (folder / sub).glob("*") if (folder / sub).is_dir() else ():
            if path.is_file() and not path.name.startswith("."):
                key = path.name.split(":", 1)[0]  # Maildir "key:2,flags"
                items.append((path.stat().st_mtime, _item(key, _parse(path.read_bytes()))))
    items.sort(key=lambda pair: pair[0], reverse=True)
    view = InboxPage(folder=str(folder), items=tuple(item for _, item in items[:MAX_LISTED]))
    return page(request, "inbox.html", v=view)


@router.get("/{key}")
def message(request: Request, key: str, settings: SettingsDep) -> HTMLResponse:
    message = _parse(_raw(_enabled(settings), key))
    text_part = message.get_body(preferencelist=("plain",))
    text = text_part.get_content() if isinstance(text_part, EmailMessage) else ""
    view = InboxMessage(
        item=_item(key, message),
        headers=tuple((name, str(message[name])) for name in SHOWN_HEADERS if message[name]),
        text=text,
        has_html=message.get_body(preferencelist=("html",)) is not None,
        links=tuple(dict.fromkeys(_LINK.findall(text))),
    )
    return page(request, "inbox_message.html", v=view)


@router.get("/{key}/html")
def message_html(key: str, settings: SettingsDep) -> Response:
    message = _parse(_raw(_enabled(settings), key))
    part = message.get_body(preferencelist=("html",))
    if not isinstance(part, EmailMessage):
        raise HTTPException(404, "no HTML part")
    # Links open in the whole window, not inside the frame (our pages refuse to be framed).
    html = '<base target="_top">' + str(part.get_content())
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": FRAME_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


@router.get("/{key}/source")
def message_source(key: str, settings: SettingsDep) -> PlainTextResponse:
    raw = _raw(_enabled(settings), key)
    return PlainTextResponse(raw.decode("utf-8", "replace"), headers={"Cache-Control": "no-store"})
