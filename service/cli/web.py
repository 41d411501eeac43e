"""``paperpost web``: the subscribe, confirm, preferences and unsubscribe pages and the admin API,
served by uvicorn. ``serve_demo`` is ``paperpost demo --serve``: the same app on the demo's
database, with the development inbox and a small in-process loop that delivers the outbox."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import typer
from sqlalchemy.orm import Session, sessionmaker

from service.cli.common import App, console, fail
from service.config import Env, Settings

log = logging.getLogger("paperpost.web")


def web(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    dev_inbox: bool | None = typer.Option(
        None, "--dev-inbox/--no-dev-inbox", help="Show /dev/inbox (default: PAPERPOST_DEV_INBOX)."
    ),
) -> None:
    """Run the web app: public pages, one-click unsubscribe, the admin API under /api/."""
    ctx = App()
    settings = ctx.settings
    if dev_inbox and settings.env is Env.production:
        fail("--dev-inbox shows every mail on a web page: refused in production", 2)
    if dev_inbox is not None:
        settings = settings.model_copy(update={"dev_inbox": dev_inbox})
    for note in settings.development_warnings():
        console.print(f"[yellow]development mode:[/] {note}", highlight=False)
    _serve(settings, ctx.factory, host, port)


def _serve(settings: Settings, factory: sessionmaker[Session], host: str, port: int) -> None:
    import uvicorn

    from service.web.app import create_app

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    console.print(f"paperpost web on {url}/  (admin API docs: {url}/docs)", highlight=False)
    if settings.dev_inbox:
        console.print(f"development inbox: {url}/dev/inbox", highlight=False)
    from service.observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format == "json")
    uvicorn.run(
        create_app(settings, factory),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        log_config=None,  # our handlers: JSON lines when PAPERPOST_LOG_FORMAT=json
    )


def serve_demo(settings: Settings, port: int = 8000) -> None:
    """The web app on the demo database until Ctrl-C: mail goes to the development inbox
    (SMTP on a free port into settings.mail_dir), shown at /dev/inbox."""
    from service.send.inbox import start_inbox
    from service.store.db import make_engine, make_sessionmaker

    controller, smtp_port = start_inbox(settings.mail_dir)
    settings = settings.model_copy(update={"smtp_port": smtp_port, "dev_inbox": True})
    factory = make_sessionmaker(make_engine(settings.database_url))
    stop = threading.Event()
    loop = threading.Thread(target=_deliver_loop, args=(settings, factory, stop), daemon=True)
    loop.start()
    try:
        _serve(settings, factory, "127.0.0.1", port)
    finally:
        stop.set()
        loop.join(timeout=10)
        controller.stop()


def _deliver_loop(
    settings: Settings, factory: sessionmaker[Session], stop: threading.Event, every: float = 2.0
) -> None:
    """What a worker and beat do, in one thread: send the due outbox rows every few seconds;
    match and plan every half minute, so a new subscriber's first digest comes too."""
    from service import pipeline
    from service.send.mailer import SmtpMailer

    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    rounds = 0
    while not stop.wait(every):
        try:
            if rounds % 15 == 0:
                pipeline.match_new_papers(factory, now(), settings.match_window_days)
                pipeline.plan_editions(factory, settings, now())
            ids = pipeline.sweep_due(factory, now())
            if ids:
                pipeline.deliver_batch(factory, settings, SmtpMailer(settings), ids, now)
        except Exception:  # keep serving the pages; the next round retries
            log.exception("demo delivery round failed")
        rounds += 1
