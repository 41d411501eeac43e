"""What every command shares: --json on listings, exit codes 0/1/2, errors on stderr, shell
completion from the installed ``paperpost`` script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

PAPERPOST = Path(sys.executable).parent / "paperpost"

LISTINGS = [
    ("subscribers", "list"),
    ("subscribers", "show", "ada@example.org"),
    ("interests", "list"),
    ("interests", "list", "ada@example.org"),
    ("papers", "list"),
    ("suppressions", "list"),
    ("deliveries", "list"),
    ("stats",),
    ("db", "current"),
    ("db", "prune", "--dry-run"),
    ("doctor", "--offline"),
]


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_every_listing_speaks_json(cli: Cli, command: tuple[str, ...]) -> None:
    cli("subscribers", "add", "ada@example.org", "--confirmed", "-i", "diffusion")
    code, out, err = cli(*command, "--json")
    assert code in (0, 1), err
    json.loads(out)


def test_exit_codes(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("subscribers", "list")[0] == 0
    assert cli("subscribers", "remove", "nobody@example.org")[0] == 1  # the operation failed
    assert cli("no-such-command")[0] == 2  # usage
    assert cli("subscribers", "list", "--no-such-option")[0] == 2
    monkeypatch.setenv("PAPERPOST_BATCH_SIZE", "0")  # settings that cannot work: usage too
    code, _, err = cli("subscribers", "list")
    assert code == 2 and "configuration" in err and "batch_size" in err


@pytest.mark.skipif(not PAPERPOST.exists(), reason="paperpost is not installed in this venv")
def test_shell_completion_script(tmp_path: Path) -> None:
    done = subprocess.run([str(PAPERPOST), "--show-completion", "bash"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "_PAPERPOST_COMPLETE=complete_bash" in done.stdout
    assert "complete -o default -F" in done.stdout and "paperpost" in done.stdout
