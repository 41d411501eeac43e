"""What every command shares: settings, the session factory, rich output, exit codes.

Exit codes: 0 success, 1 the operation failed (bad input, unknown subscriber...), 2 usage error
(an unknown option, or settings that cannot work). Errors go to stderr and say what to do;
listings print a table, or JSON with ``--json``; long operations show a progress bar on stderr
when it is a terminal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.config import ConfigError, Settings
from service.store.db import make_engine, make_sessionmaker

console = Console()
err = Console(stderr=True)
_ENGINES: list[Engine] = []  # the command's engines, disposed when it ends


def close_engines() -> None:
    """Close every database connection the command opened (run when the command ends)."""
    while _ENGINES:
        _ENGINES.pop().dispose()


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
        engine = make_engine(self.settings.database_url)
        _ENGINES.append(engine)
        return make_sessionmaker(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.factory() as session, session.begin():
            yield session


def say(text: str) -> None:
    """A line for the operator, printed as it is (no markup, no wrapping of long lines)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


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


def key_values(title: str, values: dict[str, Any]) -> None:
    """One record as a two-column table."""
    table(title, ["field", "value"], [(k, _cell(v)) for k, v in values.items()])


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return value


def progress_over(
    items: Iterable[Any], description: str, total: int | None = None, threshold: int = 500
) -> Iterable[Any]:
    """Iterate ``items`` with a progress bar on stderr when there are many (``total``, or the
    length of a sequence) and stderr is a terminal (a long import or export); silent otherwise."""
    count = total if total is not None else len(items) if isinstance(items, Sequence) else 0
    if count < threshold or not err.is_terminal:
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=count)
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def busy(description: str) -> Iterator[None]:
    """A spinner on stderr while something of unknown length runs (a migration, pruning, the
    network checks), when stderr is a terminal."""
    if not err.is_terminal:
        yield
        return
    with err.status(description):
        yield


def confirm_or_stop(question: str, yes: bool) -> None:
    """Destructive commands ask first; ``--yes`` answers for scripts. Exit 1 on "no"."""
    if yes:
        return
    if not err.is_terminal:
        fail(f"{question} Add --yes to confirm when not running in a terminal.")
    if not typer.confirm(question, default=False, err=True):
        fail("nothing was changed")
