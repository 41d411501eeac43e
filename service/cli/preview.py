"""``paperpost preview | send-test``: see a subscriber's digest, or send it for real."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from sqlalchemy import select

from service import pipeline, preview
from service.cli.common import App, fail, now
from service.send.compose import HeaderCheckError, HeaderValueError
from service.send.dkim import DkimError
from service.send.mailer import SmtpMailer
from service.store.models import Delivery
from service.track.addresses import InvalidAddress
from service.track.events import UnknownSubscriber

EXPECTED = (UnknownSubscriber, InvalidAddress, HeaderCheckError, HeaderValueError, DkimError)


def _edition(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--edition {value!r} is not a date (YYYY-MM-DD)", 2)


def preview_command(
    email: str,
    html: Path | None = typer.Option(None, help="Write the HTML part here."),
    text: Path | None = typer.Option(None, help="Write the text part here."),
    eml: Path | None = typer.Option(None, help="Write the whole message (.eml) here."),
    edition: str | None = typer.Option(
        None, help="The edition of this local date (YYYY-MM-DD); default: now."
    ),
) -> None:
    """Render the digest EMAIL would get, without sending or reserving anything. For an
    edition already planned, shows the papers fixed on it."""
    ctx = App()
    try:
        with ctx.session() as session:
            composed = preview.preview_digest(
                session, ctx.settings, email, now(), _edition(edition)
            )
    except EXPECTED as exc:
        fail(str(exc))
    for path, content in ((html, composed.html), (text, composed.text)):
        if path:
            path.write_text(content, encoding="utf-8")
    if eml:
        eml.write_bytes(composed.data)
    if not (html or text or eml):
        typer.echo(composed.text, nl=False)
    else:
        typer.echo(f"subject: {composed.subject}")


def send_test(
    email: str,
    to: str | None = typer.Option(None, "--to", help="Send to this address instead."),
) -> None:
    """Send EMAIL's digest now, over SMTP, as a test: it reserves no paper, so the next real
    digest is unchanged. Sent --to someone else, its unsubscribe links are still EMAIL's."""
    ctx = App()
    try:
        with ctx.session() as session:
            delivery_id = preview.queue_test_send(session, ctx.settings, email, now(), to)
    except EXPECTED as exc:
        fail(str(exc))
    report = pipeline.deliver_batch(
        ctx.factory, ctx.settings, SmtpMailer(ctx.settings), [delivery_id], now
    )
    with ctx.session() as session:
        row = session.scalars(select(Delivery).where(Delivery.id == delivery_id)).one()
        status, target = row.status, row.to_address or email
        error, message_id = row.last_error, row.message_id
    if report.sent != 1:
        fail(f"not sent ({status}): {error or 'see `paperpost deliver` and the logs'}")
    typer.echo(f"sent to {target}, Message-ID <{message_id}>")
