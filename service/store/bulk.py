"""Set-based writes for many rows at once, with no per-row round trips.

PostgreSQL: new rows are streamed with COPY into a temporary table, then moved with one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``; updates travel as one JSON document
that ``json_to_recordset`` turns back into typed rows for one ``UPDATE ... FROM``. (A multi-row
VALUES list of thousands of rows costs more to build and to parse than to run.)
Other databases (SQLite) use SQLAlchemy's multi-row INSERT and executemany UPDATE, which are
fast there because there is no network in between.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from service.store.sql import dialect_name, insert_ignore

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_ignore_many(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT DO NOTHING for ``rows`` (all with the same keys); returns the
    ``returning`` columns of the rows actually inserted, as tuples in that order."""
    if not rows:
        return []
    if dialect_name(session) != "postgresql":
        statement = insert_ignore(session, table).returning(*(table.c[n] for n in returning))
        return [tuple(r) for r in session.execute(statement, list(rows))]
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    staging = f"_bulk_{table.name}_{hashlib.sha256(columns.encode()).hexdigest()[:8]}"
    convert = _converters(table, names)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor:
        # Identifiers come from the table's metadata; values only travel through COPY.
        cursor.execute(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" ON COMMIT DROP AS '  # noqa: S608
            f'SELECT {columns} FROM "{table.name}" WITH NO DATA'
        )
        with cursor.copy(f'COPY "{staging}" ({columns}) FROM STDIN') as copy:
            pairs = list(zip(names, convert, strict=True))
            for row in rows:
                copy.write_row([c(row[n]) if c else row[n] for n, c in pairs])
        cursor.execute(
            f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM "{staging}" '  # noqa: S608
            f"ON CONFLICT DO NOTHING RETURNING {', '.join(returning)}"
        )
        inserted = [tuple(r) for r in cursor.fetchall()]
        cursor.execute(f'TRUNCATE "{staging}"')
    return inserted


def _converters(table: Table, names: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """JSON columns as JSON text, times as naive UTC (as UTCDateTime stores them)."""
    kinds = [_pg_type(table, n) for n in names]
    return [
        _json_text if kind == "JSON" else _iso if kind.startswith(("TIMESTAMP", "DATE")) else None
        for kind in kinds
    ]


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _json_text(value: Any) -> str | None:
    return None if value is None else _ENCODE(value)


def update_many(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE by primary key ``id``; every row carries the same keys."""
    if not rows:
        return
    names = [n for n in rows[0] if n != "id"]
    if dialect_name(session) != "postgresql":
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({n: bindparam(n) for n in names})
        )
        session.execute(statement, [{**r, "_id": r["id"]} for r in rows])
        return
    keys = ["id", *names]
    assignments = ", ".join(f'"{n}" = v."{n}"' for n in names)
    source = _recordset(table, keys)
    sql = f'UPDATE "{table.name}" SET {assignments} FROM {source} WHERE "{table.name}".id = v.id'  # noqa: S608
    session.execute(text(sql), {"rows": _json(table, rows)})


def _recordset(table: Table, names: Sequence[str]) -> str:
    spec = ", ".join(f'"{n}" {_pg_type(table, n)}' for n in names)
    return f"json_to_recordset(CAST(:rows AS JSON)) AS v({spec})"


def _json(table: Table, rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one JSON array; times as naive UTC text (as UTCDateTime stores them), dates
    as ISO text. Converting those columns up front keeps ``json.dumps`` entirely in C."""
    names = list(rows[0])
    times = [n for n in names if _pg_type(table, n).startswith(("TIMESTAMP", "DATE"))]
    if times:
        rows = [{**r, **{n: _iso(r[n]) for n in times}} for r in rows]
    return json.dumps(rows, ensure_ascii=False)


def _pg_type(table: Table, name: str) -> str:
    return str(table.c[name].type.compile(dialect=_PG))


@functools.lru_cache(maxsize=4_096)  # most rows of a run share their ingested_at, updated_at...
def _iso(value: dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat()
