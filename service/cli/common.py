"""What every command shares: settings, the session factory, rich output, exit codes.

Exit codes: 0 success, 1 the operation failed (bad input, unknown subscriber...), 2 usage error.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from service.config import ConfigError, Settings
from service.store.db import make_engine, make_sessionmaker

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@dataclass
class App:
    """Built once per command from the environment."""

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings()
        except (ConfigError, ValidationError) as exc:
            fail(f"configuration: {exc}", 2)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        return make_sessionmaker(make_engine(self.settings.database_url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.factory() as session, session.begin():
            yield session


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)
