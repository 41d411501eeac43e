"""The systemd units pass ``systemd-analyze verify`` (with the install paths pointed at this
checkout), and run the commands and roles the rest of the deployment expects."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

from tests.servers import require

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"


def parse(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        require("systemd-analyze is not installed")
    env_file = tmp_path / "paperpost.env"
    env_file.write_text("PAPERPOST_ENV=production\n")
    for unit in UNITS.iterdir():
        text = unit.read_text().replace(
            "/opt/paperpost/.venv/bin/paperpost", str(Path(sys.executable).parent / "paperpost")
        )
        (tmp_path / unit.name).write_text(
            text.replace("/etc/paperpost/paperpost.env", str(env_file))
        )
    names = ["paperpost-migrate.service", "paperpost-web.service", "paperpost-beat.service",
             "paperpost-worker@9808.service", "paperpost.target"]  # fmt: skip
    done = subprocess.run([str(analyze), "verify", "--man=no", *names], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 0 and not problems, "\n".join(problems)


def test_units_run_paperpost_as_its_own_user_after_migrations() -> None:
    commands = {}
    for name in ("paperpost-web.service", "paperpost-beat.service", "paperpost-worker@.service"):
        unit = parse(name)
        assert unit["Service"]["User"] == "paperpost"
        assert unit["Service"]["NoNewPrivileges"] == "yes"
        assert unit["Unit"]["Requires"] == "paperpost-migrate.service"
        assert "paperpost-migrate.service" in unit["Unit"]["After"]
        assert unit["Service"]["Restart"] == "always"
        commands[name] = unit["Service"]["ExecStart"].split("/paperpost ", 1)[1]
    assert commands == {
        "paperpost-web.service": "web --host 127.0.0.1 --port 8000",
        "paperpost-beat.service": "beat",
        "paperpost-worker@.service": "worker --concurrency 2 --name worker-%i",
    }
    migrate = parse("paperpost-migrate.service")
    assert migrate["Service"]["Type"] == "oneshot"
    assert migrate["Service"]["ExecStart"].endswith("paperpost db upgrade")
    assert (
        "PAPERPOST_METRICS_PORT=%i" in parse("paperpost-worker@.service")["Service"]["Environment"]
    )
