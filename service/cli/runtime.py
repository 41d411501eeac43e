"""``paperpost inbox | worker | beat | run``: long-running processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from service.cli.common import App, console


def inbox(
    port: int = typer.Option(8025, help="Port on 127.0.0.1."),
    maildir: Path | None = typer.Option(None, help="Default: PAPERPOST_MAIL_DIR (./var/mail)."),
) -> None:
    """Run the development inbox: an SMTP server on 127.0.0.1 storing mail in a Maildir."""
    from service.send.inbox import start_inbox

    path = maildir or App().settings.mail_dir
    controller, bound = start_inbox(path, port=port)
    console.print(f"development inbox on smtp://127.0.0.1:{bound}, storing mail in {path}/new")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", *args]


def worker(
    concurrency: int = typer.Option(2, help="Worker processes."),
    loglevel: str | None = typer.Option(None, help="Default: PAPERPOST_LOG_LEVEL."),
    name: str | None = typer.Option(
        None, help="Node name, unique per machine when several workers run on one."
    ),
) -> None:
    """Run a Celery worker (ingest, match, plan and deliver tasks). With PAPERPOST_METRICS_PORT
    set it serves /metrics, summed over its processes."""
    _warn_development()
    args = ["worker", f"--concurrency={concurrency}"]
    if name:
        args.append(f"--hostname={name}@%h")
    os.execve(sys.executable, _celery(*args), _process_env(loglevel))


def beat(loglevel: str | None = typer.Option(None, help="Default: PAPERPOST_LOG_LEVEL.")) -> None:
    """Run Celery beat. Exactly one beat may run (see deploy/README.md for celery-redbeat)."""
    _warn_development()
    schedule = App().settings.mail_dir.parent / "celerybeat-schedule"
    os.execve(sys.executable, _celery("beat", f"--schedule={schedule}"), _process_env(loglevel))


def _process_env(loglevel: str | None) -> dict[str, str]:
    """The environment of the exec'd Celery process. Its logging is configured by paperpost
    (workers/observability.py) from PAPERPOST_LOG_LEVEL and PAPERPOST_LOG_FORMAT."""
    env = dict(os.environ)
    if loglevel:
        env["PAPERPOST_LOG_LEVEL"] = loglevel.upper()
    return env


def run(
    inbox_port: int = typer.Option(8025, help="Development inbox port; 0 to not start one."),
    concurrency: int = typer.Option(1, help="Worker processes."),
    web_port: int = typer.Option(8000, help="Web app port on 127.0.0.1; 0 to not start it."),
) -> None:
    """Run everything on one machine: the development inbox, a worker, beat and the web app,
    with Celery on the SQLite broker. Ctrl-C stops all of them."""
    ctx = App()
    _warn_development()
    from service.store import migrate

    migrate.upgrade(ctx.settings.database_url)
    children = [
        subprocess.Popen(_celery("worker", f"--concurrency={concurrency}", "--loglevel=info")),
        subprocess.Popen(
            _celery(
                "beat",
                "--loglevel=info",
                f"--schedule={ctx.settings.mail_dir.parent / 'celerybeat-schedule'}",
            )
        ),
    ]
    if inbox_port:
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "service.cli", "inbox", "--port", str(inbox_port)]
            )
        )
    if web_port:
        web = [sys.executable, "-m", "service.cli", "web", "--port", str(web_port)]
        children.append(subprocess.Popen([*web, "--dev-inbox"] if inbox_port else web))
    console.print(f"paperpost running ({len(children)} processes); Ctrl-C to stop")
    try:
        while all(child.poll() is None for child in children):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=30)


def _warn_development() -> None:
    for note in App().settings.development_warnings():
        console.print(f"[yellow]development mode:[/] {note}", highlight=False)
