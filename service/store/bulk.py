"""Set-based writes for many rows in one statement.

On PostgreSQL a chunk of rows travels as one JSON document and ``json_to_recordset`` turns it
back into typed rows: one statement, one parameter and one round trip per chunk. (A multi-row
VALUES list of thousands of rows costs more to build and parse than to run, and so do text
arrays, which need escaping element by element; ``json.dumps`` does the whole chunk in C.)
Other databases (SQLite) use SQLAlchemy's multi-row INSERT and executemany UPDATE, which are
fast there because there is no network in between.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from service.store.sql import dialect_name, insert_ignore

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_ignore_many(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str]
) -> list[Row[Any]]:
    """INSERT ... ON CONFLICT DO NOTHING for ``rows`` (all with the same keys); returns the
    ``returning`` columns of the rows actually inserted."""
    if not rows:
        return []
    if dialect_name(session) != "postgresql":
        statement = insert_ignore(session, table).returning(*(table.c[n] for n in returning))
        return list(session.execute(statement, list(rows)).all())
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    source, back = _recordset(table, names), ", ".join(returning)
    # Identifiers come from the table's metadata; the values travel as one bound parameter.
    sql = f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM {source} '  # noqa: S608
    sql += f"ON CONFLICT DO NOTHING RETURNING {back}"
    return list(session.execute(text(sql), {"rows": _json(table, rows)}).all())


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


def _iso(value: dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat()
