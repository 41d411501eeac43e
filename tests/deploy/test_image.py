"""The image: one Dockerfile for every role, non-root, with a healthcheck; its entrypoint maps
roles to commands (run for real for ``migrate``); its healthcheck answers for web and worker;
and every ``paperpost`` command the deployment files name exists."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from service.cli import app as cli_app
from service.store import migrate
from tests.observability.test_health import serve
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_dockerfile_runs_as_a_user_with_a_healthcheck() -> None:
    steps = instructions()
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(op == "HEALTHCHECK" and "paperpost-healthcheck" in arg for op, arg in steps)
    assert ("ENTRYPOINT", '["paperpost-entrypoint"]') in steps
    assert ("CMD", '["web"]') in steps
    for op, arg in steps:
        if op == "COPY":
            sources = [a for a in arg.split() if not a.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_dockerignore_lets_the_copied_files_in() -> None:
    allowed = [
        line[1:].rstrip("/") for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]  # fmt: skip
    for op, arg in instructions():
        if op == "COPY":
            for source in [a for a in arg.split() if not a.startswith("--")][:-1]:
                assert source.rstrip("/") in allowed, f"{source} is excluded from the context"


@pytest.fixture
def fake_paperpost(tmp_path: Path) -> Path:
    """A ``paperpost`` on PATH that prints its arguments, to see what each role runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "paperpost"
    script.write_text('#!/bin/sh\necho "paperpost $*"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def entrypoint(path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERPOST_")}
    full = {**clean, "PATH": f"{path}:{clean['PATH']}", **env}
    return subprocess.run(["sh", str(DEPLOY / "entrypoint.sh"), *args], env=full,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "runs"),
    [
        ((), {}, "paperpost web --host 0.0.0.0 --port 8000"),
        (("web",), {"PAPERPOST_WEB_PORT": "9000"}, "paperpost web --host 0.0.0.0 --port 9000"),
        (("worker",), {}, "paperpost worker --concurrency 2"),
        (("worker", "--name", "w1"), {"PAPERPOST_WORKER_CONCURRENCY": "4"},
         "paperpost worker --concurrency 4 --name w1"),
        (("beat",), {}, "paperpost beat"),
        (("migrate",), {}, "paperpost db upgrade"),
        (("paperpost", "doctor", "--json"), {}, "paperpost doctor --json"),
    ],
)  # fmt: skip
def test_entrypoint_roles(
    fake_paperpost: Path, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], runs: str
) -> None:
    role_file = tmp_path / "role"
    done = entrypoint(fake_paperpost, *args, PAPERPOST_ROLE_FILE=str(role_file), **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == runs
    if args[:1] != ("paperpost",):
        assert role_file.read_text().strip() == (args[0] if args else "web")


def test_entrypoint_refuses_an_unknown_role(fake_paperpost: Path) -> None:
    done = entrypoint(fake_paperpost, "scheduler")
    assert done.returncode == 2
    assert "unknown role: scheduler" in done.stderr and "web|worker|beat|migrate" in done.stderr


def test_migrate_role_for_real(tmp_path: Path) -> None:
    if not (VENV_BIN / "paperpost").exists():
        pytest.skip("paperpost is not installed in this venv")
    url = f"sqlite:///{tmp_path / 'paperpost.sqlite'}"
    done = entrypoint(VENV_BIN, "migrate", PAPERPOST_DATABASE_URL=url,
                      PAPERPOST_ROLE_FILE=str(tmp_path / "role"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert migrate.current(url) == migrate.heads(url)[0]


def healthcheck(*args: str, **env: str) -> int:
    return subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py"), *args],
                          env={**os.environ, **env}, cwd=ROOT, capture_output=True,
                          timeout=60, check=False).returncode  # fmt: skip


def test_healthcheck_of_the_web_role(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(__import__("service.web.health", fromlist=["router"]).router)
    with serve(app) as base:
        port = base.rsplit(":", 1)[1]
        assert healthcheck("web", PAPERPOST_WEB_PORT=port) == 0
        (tmp_path / "role").write_text("web\n")
        assert healthcheck(PAPERPOST_WEB_PORT=port, PAPERPOST_ROLE_FILE=str(tmp_path / "role")) == 0
    assert healthcheck("web", PAPERPOST_WEB_PORT=str(free_port())) == 1
    assert healthcheck("migrate") == 0
    assert healthcheck("beat") == 1  # PID 1 here is not beat
    assert healthcheck("bogus") == 1


def commands_named_in_deploy() -> set[tuple[str, ...]]:
    found = set()
    texts = [p.read_text() for p in DEPLOY.rglob("*") if p.is_file()]
    for text in texts:
        for match in re.finditer(r"\bpaperpost ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", text):
            words = tuple(match[1].split())
            found.add(words)
    return found


def test_every_command_the_deployment_runs_exists() -> None:
    runner = CliRunner()
    top = {c.name for c in __import__("typer").main.get_command(cli_app).commands.values()}
    checked = 0
    for words in sorted(commands_named_in_deploy()):
        if words[0] not in top:
            continue  # prose such as "paperpost settings"
        result = runner.invoke(cli_app, [*words, "--help"])
        if result.exit_code != 0 and len(words) == 2:
            result = runner.invoke(cli_app, [words[0], "--help"])
        assert result.exit_code == 0, f"`paperpost {' '.join(words)}` does not exist"
        checked += 1
    for needed in (("web",), ("worker",), ("beat",), ("db", "upgrade"), ("doctor",)):
        assert runner.invoke(cli_app, [*needed, "--help"]).exit_code == 0, needed
    assert checked >= 5


def test_shell_scripts_parse() -> None:
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    assert subprocess.run(["sh", "-n", str(DEPLOY / "entrypoint.sh")], check=False).returncode == 0
    assert os.access(DEPLOY / "entrypoint.sh", os.X_OK) and os.access(
        DEPLOY / "healthcheck.py", os.X_OK
    )
