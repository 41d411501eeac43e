"""Liveness and readiness. Alive: the process answers. Ready: the database answers and its
schema is the one this code expects (an instance started before ``paperpost db upgrade`` ran is
not ready, so a load balancer keeps sending to the old ones during an upgrade)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import cache

from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.store import migrate


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": [asdict(c) for c in self.checks],
        }


@cache
def expected_heads() -> tuple[str, ...]:
    return tuple(sorted(migrate.heads("sqlite://")))


def readiness(factory: sessionmaker[Session]) -> Readiness:
    started = time.perf_counter()
    try:
        with factory() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL statement_timeout = 3000"))
            session.execute(text("SELECT 1"))
            revision = MigrationContext.configure(session.connection()).get_current_revision()
    except (SQLAlchemyError, OSError) as exc:
        return Readiness([Check("database", False, f"unreachable: {exc.__class__.__name__}")])
    took = f"answered in {(time.perf_counter() - started) * 1000:.0f} ms"
    checks = [Check("database", True, took)]
    heads = expected_heads()
    if revision in heads:
        checks.append(Check("schema", True, f"at revision {revision}"))
    else:
        checks.append(
            Check(
                "schema",
                False,
                f"at revision {revision or 'none'}, the code expects {', '.join(heads)}: "
                "run `paperpost db upgrade`",
            )
        )
    return Readiness(checks)
