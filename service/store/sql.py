"""Dialect helpers: ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, model: Any) -> Any:
    """An insert that skips rows hitting a unique constraint."""
    name = session.get_bind().dialect.name
    dialect = postgresql if name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name
