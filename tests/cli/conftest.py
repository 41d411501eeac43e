"""The CLI against a migrated database of the matrix, invoked in process with the real Typer
app; ``run`` returns (exit code, stdout, stderr)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.store import migrate


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> tuple[int, str, str]:
        result = self.runner.invoke(app, list(args), input=input)
        return result.exit_code, result.stdout, result.stderr

    def json(self, *args: str) -> Any:
        code, out, error = self(*args, "--json")
        assert code == 0, error or out
        return json.loads(out)


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("PAPERPOST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PAPERPOST_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("PAPERPOST_MAIL_FROM", settings.mail_from)
    monkeypatch.setenv("PAPERPOST_PUBLIC_BASE_URL", settings.public_base_url)
    # The sample papers are from 2024 and 2025: keep them matchable whatever today is.
    monkeypatch.setenv("PAPERPOST_RETENTION_PAPERS_DAYS", "0")
    migrate.upgrade(settings.database_url)
    return Cli()
