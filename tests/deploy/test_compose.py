"""deploy/compose.yml and compose.dev.yml, as ``docker-compose config`` (Debian's docker-compose,
no Docker engine needed) resolves them: the services, exactly one beat, N workers,
healthchecks and the start order."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.servers import require

ROOT = Path(__file__).resolve().parents[2]
APP = ("migrate", "web", "worker", "beat")


def compose(tmp_path: Path, *files: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` on a copy of deploy/ whose .env is env.example, as an
    operator's first step would make it."""
    binary = shutil.which("docker-compose")
    if binary is None:
        require("docker-compose is not installed (apt-get install docker-compose)")
    deploy = tmp_path / "deploy"
    if not deploy.exists():
        shutil.copytree(ROOT / "deploy", deploy)
        shutil.copy(deploy / "env.example", deploy / ".env")
    args = [a for f in files for a in ("-f", f)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERPOST_", "POSTGRES_"))}
    return subprocess.run([str(binary), *args, "config"], cwd=deploy, env={**clean, **env},
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def config(tmp_path: Path, *files: str, **env: str) -> dict[str, Any]:
    done = compose(tmp_path, *files, POSTGRES_PASSWORD="pw-for-the-test", **env)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = yaml.safe_load(done.stdout)
    return parsed["services"]


def test_production_stack(tmp_path: Path) -> None:
    services = config(tmp_path, "compose.yml")
    assert set(services) == {"postgres", "redis", *APP}
    for name in APP:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["command"] == [name]
        env = services[name]["environment"]
        assert env["PAPERPOST_DATABASE_URL"].startswith(
            "postgresql+psycopg://paperpost:pw-for-the-test@postgres"
        )
        assert env["PAPERPOST_BROKER_URL"] == "redis://redis:6379/0"
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
        }
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["beat"]["environment"]["PAPERPOST_BEAT_SCHEDULER"] == "redbeat"
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["environment"]["PAPERPOST_METRICS_PORT"] == "9808"
    assert str(services["web"]["ports"][0]).startswith("127.0.0.1:8000:8000")
    assert "--maxmemory-policy" in services["redis"]["command"]


def test_workers_scale_and_beat_stays_one(tmp_path: Path) -> None:
    services = config(tmp_path, "compose.yml", PAPERPOST_WORKERS="6")
    assert services["worker"]["deploy"]["replicas"] == 6
    assert services["beat"]["deploy"]["replicas"] == 1


def test_the_database_password_is_required(tmp_path: Path) -> None:
    done = compose(tmp_path, "compose.yml")
    assert done.returncode != 0 and "set POSTGRES_PASSWORD in deploy/.env" in done.stderr


def test_development_adds_a_mail_catcher(tmp_path: Path) -> None:
    services = config(tmp_path, "compose.yml", "compose.dev.yml")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert services["mailpit"]["healthcheck"]["test"]
    for name in APP:
        env = services[name]["environment"]
        assert (env["PAPERPOST_SMTP_HOST"], env["PAPERPOST_SMTP_PORT"]) == ("mailpit", "1025")
        assert env["PAPERPOST_ENV"] == "development"
        assert env["PAPERPOST_DATABASE_URL"].startswith("postgresql+psycopg://")  # kept
    assert services["worker"]["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    assert services["worker"]["environment"]["PAPERPOST_METRICS_PORT"] == "9808"
    assert services["beat"]["deploy"]["replicas"] == 1
