#!/usr/bin/env python3
"""The container healthcheck, for the role the entrypoint started (or the one given):
web answers /healthz, a worker answers a Celery ping, beat's process is alive.
Exit 0 healthy, 1 unhealthy. Standard library only, so it stays cheap every 30 s."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path


def role() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    path = Path(os.environ.get("PAPERPOST_ROLE_FILE", "/tmp/paperpost-role"))  # noqa: S108
    return path.read_text().strip() if path.exists() else "web"


def web() -> bool:
    port = os.environ.get("PAPERPOST_WEB_PORT", "8000")
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return False


def worker() -> bool:
    node = f"celery@{socket.gethostname()}"
    command = [sys.executable, "-m", "celery", "-A", "workers.app", "inspect", "ping",
               "--destination", node, "--timeout", "5"]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=12, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and b"pong" in done.stdout


def beat() -> bool:
    try:
        return b"beat" in Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return False


CHECKS = {"web": web, "worker": worker, "beat": beat, "migrate": lambda: True}


def main() -> int:
    check = CHECKS.get(role())
    if check is None:
        print(f"unknown role {role()!r}: use {', '.join(CHECKS)}", file=sys.stderr)
        return 1
    return 0 if check() else 1


if __name__ == "__main__":
    sys.exit(main())
