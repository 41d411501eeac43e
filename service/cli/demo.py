"""``paperpost demo``: the whole pipeline once, end to end, on the embedded default, then exit.

SQLite under ./var/demo, tasks run in this process, the development inbox started in process on
a free port; the messages land in ./var/mail. Running it again sends nothing twice: the
subscribers exist, and today's editions are already in the ledger.
"""

from __future__ import annotations

import email
import mailbox
from email import policy
from email.message import EmailMessage
from pathlib import Path

import typer
from sqlalchemy import select

from service import pipeline
from service.cli.common import console, fail, now, table
from service.config import Settings
from service.send.inbox import start_inbox
from service.send.mailer import SmtpMailer
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, DeliveryStatus, Subscriber
from service.track.events import SubscriberInput, add_subscriber

DATA = Path(__file__).resolve().parents[1] / "demo"
PEOPLE = (
    SubscriberInput("ada@example.org", ["diffusion", '"video generation"', "consistency model"]),
    SubscriberInput("grace@example.org", ['"click-through rate"', "recommender"], "Europe/Berlin"),
    SubscriberInput("alan@example.org", [], "America/New_York", include_trending=True),
)


def demo(
    var: Path = typer.Option(Path("var"), help="Where the demo keeps its database and mail."),
    serve: bool = typer.Option(False, "--serve", help="Then serve the web pages on port 8000."),
) -> None:
    """Run ingest, match, plan and deliver once on bundled papers, through real SMTP."""
    settings = _settings(var)
    controller, port = start_inbox(settings.mail_dir)
    settings = settings.model_copy(update={"smtp_port": port})
    try:
        _run(settings)
    finally:
        controller.stop()
    _show(settings, var)
    console.print(
        "Web pages (subscribe, confirm, preferences, unsubscribe) and the mail they send: run "
        "`paperpost demo --serve`, then open http://127.0.0.1:8000/ and "
        "http://127.0.0.1:8000/dev/inbox"
    )
    if serve:
        from service.cli.web import serve_demo

        serve_demo(settings)


def _settings(var: Path) -> Settings:
    return Settings(
        env="development",
        database_url=f"sqlite:///{var / 'demo' / 'paperpost.sqlite'}",
        mail_dir=var / "mail",
        smtp_host="127.0.0.1",
        smtp_tls="none",
        smtp_username=None,
        mail_from="digest@paperpost.localhost",
        public_base_url="http://127.0.0.1:8000",
        retention_papers_days=0,  # the bundled papers are historical: keep them matchable
    )


def _run(settings: Settings) -> None:
    (Path(settings.database_url.removeprefix("sqlite:///"))).parent.mkdir(
        parents=True, exist_ok=True
    )
    migrate.upgrade(settings.database_url)
    factory = make_sessionmaker(make_engine(settings.database_url))
    for path in sorted(DATA.glob("*.json")):
        report = pipeline.ingest_file(factory, path, now())
        console.print(
            f"ingested {path.name}: {report.new} new, {report.unchanged + report.updated} known"
        )
    start = now()
    with transaction(factory) as session:
        existing = set(session.scalars(select(Subscriber.email)))
        for person in PEOPLE:
            if person.email not in existing:
                hour = 0  # due as soon as the local day starts, so the demo sends today
                data = SubscriberInput(**{**person.__dict__, "send_hour": hour})
                add_subscriber(session, data, start, "demo", confirmed=True)
    matched = pipeline.match_new_papers(factory, now(), settings.match_window_days)
    console.print(f"matched: {matched.matches} (subscriber, paper) pairs")
    plan = pipeline.plan_editions(factory, settings, now())
    console.print(f"planned: {len(plan.planned)} digests ({plan.existing} already sent today)")
    sent = pipeline.deliver_batch(factory, settings, SmtpMailer(settings), plan.planned, now)
    console.print(f"delivered: {sent.sent} sent, {sent.retry} to retry, {sent.failed} failed")
    if sent.retry or sent.failed:
        fail("some digests were not delivered; see `paperpost deliveries` in the demo database")


def _show(settings: Settings, var: Path) -> None:
    messages = _messages_by_id(settings.mail_dir)
    factory = make_sessionmaker(make_engine(settings.database_url))
    rows, files = [], []
    with factory() as session:
        query = (
            select(Subscriber, Delivery)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.status == DeliveryStatus.sent)
            .order_by(Subscriber.id, Delivery.id)
        )
        for subscriber, delivery in session.execute(query).tuples():
            path, msg = messages.get(f"<{delivery.message_id}>", (None, None))
            preview = _write_preview(var, subscriber.email, msg) if msg else None
            rows.append((
                subscriber.email,
                "; ".join(i.value for i in subscriber.interests) or "(trending only)",
                f"{len(delivery.paper_ids)} + {len(delivery.trending_ids)} trending",
                msg["Subject"] if msg else "missing from the inbox",
            ))  # fmt: skip
            files.append(f"{subscriber.email}: {path or 'missing'}  preview: {preview or '-'}")
    table("What each subscriber received", ["subscriber", "interests", "papers", "subject"], rows)
    for line in files:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"All mail: {settings.mail_dir}/new  (run `paperpost inbox` to keep receiving)")


def _messages_by_id(maildir: Path) -> dict[str, tuple[str, EmailMessage]]:
    mailbox.Maildir(maildir, create=True)
    found = {}
    for path in sorted([*(maildir / "new").iterdir(), *(maildir / "cur").iterdir()]):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        found[str(msg["Message-ID"])] = (str(path), msg)
    return found


def _write_preview(var: Path, address: str, msg: EmailMessage) -> str | None:
    part = msg.get_body(preferencelist=("html",))
    if part is None:
        return None
    out = var / "demo" / f"preview-{address.split('@')[0]}.html"
    out.write_text(part.get_content(), encoding="utf-8")
    return str(out)
