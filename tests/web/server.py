"""``paperpost web`` as a real process on 127.0.0.1, for tests that need real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.config import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "PAPERPOST_ENV": settings.env.value,
        "PAPERPOST_DATABASE_URL": settings.database_url,
        "PAPERPOST_SECRET_KEY": settings.secret_key,
        "PAPERPOST_MAIL_DIR": str(settings.mail_dir),
        "PAPERPOST_PUBLIC_BASE_URL": settings.public_base_url,
        "PAPERPOST_MAIL_FROM": settings.mail_from,
        "PAPERPOST_SUBSCRIBE_PER_IP_HOUR": str(settings.subscribe_per_ip_hour),
    }
    if settings.redis_url:
        env["PAPERPOST_REDIS_URL"] = settings.redis_url
    if settings.admin_token:
        env["PAPERPOST_ADMIN_TOKEN"] = settings.admin_token
    return env


@contextmanager
def web_process(settings: Settings, port: int, cwd: Path) -> Iterator[str]:
    """Start ``paperpost web --dev-inbox`` on ``port``; yields its base URL. Its output goes
    to ``web-PORT.log`` in ``cwd`` (a pipe nobody reads would fill up and stall the server)."""
    log = cwd / f"web-{port}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "web", "--port", str(port), "--dev-inbox"],
            cwd=cwd,
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(port, server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"paperpost web exited: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("paperpost web did not start listening")
