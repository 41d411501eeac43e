"""The development inbox pages over a real Maildir."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient

from service.config import Settings


def deliver(maildir: Path, subject: str, html: str | None = None) -> str:
    message = EmailMessage()
    message["From"] = "paperpost <digest@paperpost.example>"
    message["To"] = "ada@example.org"
    message["Subject"] = subject
    message["Date"] = "Fri, 27 Nov 2026 09:00:00 +0000"
    message["Message-ID"] = "<1@paperpost.example>"
    message["Feedback-ID"] = "confirm:paperpost.example"
    message["List-Unsubscribe"] = "<https://paperpost.example/unsubscribe/abc>"
    message.set_content("Confirm here:\nhttps://paperpost.example/confirm/abc.def\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    box = mailbox.Maildir(maildir, create=True)
    return str(box.add(mailbox.MaildirMessage(bytes(message))))


def test_list_and_message(client: TestClient, web_settings: Settings) -> None:
    assert "No mail yet" in client.get("/dev/inbox").text
    key = deliver(web_settings.mail_dir, "Confirm <your> subscription", "<p>Hello <b>Ada</b></p>")
    listing = client.get("/dev/inbox")
    assert listing.status_code == 200
    assert f'href="/dev/inbox/{key}"' in listing.text
    assert "Confirm &lt;your&gt; subscription" in listing.text and ">confirm<" in listing.text
    page = client.get(f"/dev/inbox/{key}")
    assert page.status_code == 200
    assert "List-Unsubscribe" in page.text
    assert 'href="https://paperpost.example/confirm/abc.def"' in page.text  # clickable links
    assert f'src="/dev/inbox/{key}/html"' in page.text and "sandbox=" in page.text


def test_html_part_is_sandboxed(client: TestClient, web_settings: Settings) -> None:
    key = deliver(web_settings.mail_dir, "x", "<p>Hi</p><script>alert(1)</script>")
    response = client.get(f"/dev/inbox/{key}/html")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "script-src" not in csp and "default-src 'none'" in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.text.startswith('<base target="_top">')


def test_source_and_missing(client: TestClient, web_settings: Settings) -> None:
    key = deliver(web_settings.mail_dir, "plain only")
    source = client.get(f"/dev/inbox/{key}/source")
    assert source.status_code == 200 and "Subject: plain only" in source.text
    assert source.headers["content-type"].startswith("text/plain")
    assert client.get(f"/dev/inbox/{key}/html").status_code == 404  # no HTML part
    for bad in ("nope", "..%2F..%2Fetc%2Fpasswd", "%00"):
        assert client.get(f"/dev/inbox/{bad}").status_code == 404
