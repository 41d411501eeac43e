"""The fault-test harness of RELIABILITY.md section 4. Every test gets its own PostgreSQL database
(copied from a migrated template), its own redis-server, an aiosmtpd sink with fault scripts,
TCP proxies to cut services with, and real ``celery worker --concurrency 2`` and ``celery beat``
processes in process groups of their own, killed in teardown. Counts come from the database and
the sink log: lost, dup_distinct, dup_raw, stuck."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.store import migrate
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, DeliveryKind, DeliveryStatus, Match, Paper, Subscriber
from tests.faults.sink import Script, Sink, fault_sink
from tests.servers import PG_ADMIN_URL, free_port, postgres_available, private_redis, require

ROOT = Path(__file__).resolve().parents[2]
ROWS = int(os.environ.get("PAPERPOST_FAULT_ROWS", "2000"))
BATCH = 100
NOW = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)
TERMINAL = (DeliveryStatus.sent, DeliveryStatus.skipped, DeliveryStatus.failed)
SECRET = "fault-test-secret-key-0123456789abcdef"


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``cut`` drops every connection and refuses new ones
    until ``restore``."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@cache
def template_database() -> str:
    """A migrated database to copy for each test (CREATE DATABASE ... TEMPLATE)."""
    if not postgres_available():
        require(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"paperpost_fault_tpl_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    migrate.upgrade(make_url(PG_ADMIN_URL).set(database=name).render_as_string(False))
    return name


def drop_template() -> None:
    if template_database.cache_info().currsize:
        _drop(template_database())


def _drop(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fault_database() -> Iterator[str]:
    template = template_database()
    name = f"paperpost_fault_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(name)


@dataclass
class Counts:
    due: int
    delivered: int
    lost: int
    dup_distinct: int
    dup_raw: int
    stuck: int
    statuses: dict[str, int]

    def line(self) -> str:
        return (f"due={self.due} delivered={self.delivered} lost={self.lost} "
                f"dup_distinct={self.dup_distinct} dup_raw={self.dup_raw} stuck={self.stuck} "
                f"statuses={self.statuses}")  # fmt: skip


@dataclass
class World:
    db_url: str
    factory: sessionmaker[Session]
    redis_url: str  # direct, for the test itself
    redis_proxy: TcpProxy
    smtp_proxy: TcpProxy
    sink: Sink
    logs: Path
    pg_proxy: TcpProxy | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=self.db_url, broker_url=self.broker_url, smtp_port=self.sink.port,
            secret_key=SECRET, mail_from="digest@paperpost.example",
            public_base_url="https://paperpost.example", timing_profile="scaled",
            skip_empty_digests=False, batch_size=BATCH,
        )  # fmt: skip

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_proxy.port}/0"

    def process_env(self, **extra: str) -> dict[str, str]:
        db = self.db_url
        if self.pg_proxy is not None:
            db = str(make_url(db).set(port=self.pg_proxy.port).render_as_string(False))
        env = {**os.environ, "PAPERPOST_DATABASE_URL": db, "PAPERPOST_BROKER_URL": self.broker_url,
               "PAPERPOST_SMTP_HOST": "127.0.0.1", "PAPERPOST_SMTP_PORT": str(self.smtp_proxy.port),
               "PAPERPOST_SECRET_KEY": SECRET, "PAPERPOST_MAIL_FROM": "digest@paperpost.example",
               "PAPERPOST_PUBLIC_BASE_URL": "https://paperpost.example",
               "PAPERPOST_TIMING_PROFILE": "scaled", "PAPERPOST_BATCH_SIZE": str(BATCH),
               "PAPERPOST_SKIP_EMPTY_DIGESTS": "false", "PAPERPOST_ENV": "development",
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        return {**env, **self.env, **extra}

    def _spawn(self, args: list[str], log_name: str, **extra: str) -> subprocess.Popen[bytes]:
        log = (self.logs / log_name).open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.faults.worker", *args],
            cwd=ROOT, env=self.process_env(**extra), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str = "w1", **extra: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            ["worker", "--concurrency=2", "--loglevel=warning", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"],
            f"{name}.log", **extra,
        )  # fmt: skip

    def start_beat(self, name: str = "beat", **extra: str) -> subprocess.Popen[bytes]:
        schedule = self.logs / f"{name}-schedule"
        return self._spawn(["beat", "--loglevel=info", f"--schedule={schedule}"],
                           f"{name}.log", **extra)  # fmt: skip

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            proc.wait(10)

    def seed(self, rows: int = ROWS, **fields: Any) -> list[int]:
        """``rows`` active subscribers, each with three matched papers, and their digests planned
        (not enqueued). Returns the delivery ids."""
        seed_subscribers(self.factory, rows, **fields)
        report = pipeline.plan_editions(self.factory, self.settings, dt.datetime.now(dt.UTC))
        return report.planned

    def enqueue(self, ids: list[int], countdown: float | None = None) -> None:
        from workers.app import create_app

        app = create_app(self.settings)
        with app.connection_for_write() as conn:
            for start in range(0, len(ids), BATCH):
                app.send_task("paperpost.deliver_batch", args=[ids[start : start + BATCH]],
                              connection=conn, countdown=countdown)  # fmt: skip

    def pending(self) -> int:
        with self.factory() as session:
            return int(session.scalar(
                select(func.count()).select_from(Delivery)
                .where(Delivery.status.not_in(TERMINAL))
            ) or 0)  # fmt: skip

    def wait_done(self, timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.pending() == 0:
                time.sleep(0.5)  # anything extra would arrive now
                return True
            time.sleep(0.25)
        return False

    def wait_sent(self, count: int, timeout: float) -> None:
        self.sink.wait_for(count, timeout)

    def statuses(self) -> dict[str, int]:
        with self.factory() as session:
            rows = session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            ).all()
        return {str(s): int(c) for s, c in rows}

    def rows(self) -> list[Delivery]:
        with self.factory() as session:
            return list(
                session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.digest))
            )

    def emails(self) -> dict[int, str]:
        with self.factory() as session:
            return dict(session.execute(select(Subscriber.id, Subscriber.email)).tuples().all())

    def counts(self, not_expected: set[str] | None = None) -> Counts:
        """``not_expected``: addresses that must not get mail (suppressed, bounced)."""
        with self.factory() as session:
            emails = dict(session.execute(select(Subscriber.id, Subscriber.email)).tuples().all())
        rows = self.rows()
        due = {emails[r.subscriber_id] for r in rows if r.subscriber_id in emails} - (
            not_expected or set()
        )
        by_rcpt = self.sink.ids_by_rcpt()
        dup_raw = sum(len(ids) - len(set(ids)) for ids in by_rcpt.values())
        return Counts(
            due=len(due),
            delivered=sum(1 for a in due if a in by_rcpt),
            lost=sum(1 for a in due if a not in by_rcpt),
            dup_distinct=sum(1 for ids in by_rcpt.values() if len(set(ids)) > 1),
            dup_raw=dup_raw,
            stuck=sum(1 for r in rows if r.status not in TERMINAL),
            statuses=self.statuses(),
        )

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs.glob("*.log"))


def seed_subscribers(factory: sessionmaker[Session], rows: int, **fields: Any) -> None:
    with transaction(factory) as session:
        papers = [
            {"arxiv_id": f"2609.{i:05d}", "title": f"A study of fault tolerance, part {i}",
             "summary": "We measure what survives a crash. " * 6, "authors": [{"name": "A. Uthor"}],
             "categories": ["cs.DC"], "ai_keywords": [], "sources": ["file"], "source_ids": {},
             "abs_url": f"https://arxiv.org/abs/2609.{i:05d}", "ingested_at": NOW,
             "updated_at": NOW, "match_pending": False, "upvotes": 0, "num_comments": 0,
             "enrich_attempts": 0}
            for i in range(12)
        ]  # fmt: skip
        paper_ids = list(session.scalars(insert(Paper).returning(Paper.id), papers))
        people = [
            {"email": f"reader{i:05d}@example.org", "status": "active", "timezone": "UTC",
             "send_hour": 8, "frequency": "daily", "weekday": 0, "max_papers": 3,
             "include_trending": False, "format": "html", "summary_style": "abstract",
             "token_secret": uuid.uuid4().hex, "soft_bounces": 0, "created_at": NOW,
             "updated_at": NOW, "confirmed_at": NOW, **fields}
            for i in range(rows)
        ]  # fmt: skip
        ids = list(session.scalars(insert(Subscriber).returning(Subscriber.id), people))
        session.execute(
            insert(Match),
            [{"subscriber_id": sid, "paper_id": paper_ids[(sid + k) % len(paper_ids)],
              "score": 3.0 - k, "reasons": ["fault tolerance"], "created_at": NOW}
             for sid in ids for k in range(3)],
        )  # fmt: skip


@contextmanager
def world(
    tmp_path: Path,
    script: Script | None = None,
    pg_proxy: bool = False,
    auth: bool = False,
    sqlite: bool = False,
) -> Iterator[World]:
    with ExitStack() as stack:
        if sqlite:
            db_url = f"sqlite:///{tmp_path / 'paperpost.sqlite'}"
            migrate.upgrade(db_url)
        else:
            db_url = stack.enter_context(fault_database())
        redis_url = stack.enter_context(private_redis())
        sink = stack.enter_context(fault_sink(script, auth=auth))
        redis_proxy = TcpProxy(int(make_url(redis_url).port or 6379)).start()
        stack.callback(redis_proxy.stop)
        smtp_proxy = TcpProxy(sink.port).start()
        stack.callback(smtp_proxy.stop)
        pg = None
        if pg_proxy:
            pg = TcpProxy(int(make_url(db_url).port or 5432)).start()
            stack.callback(pg.stop)
        engine = make_engine(db_url)
        stack.callback(engine.dispose)
        logs = tmp_path / "logs"
        logs.mkdir(exist_ok=True)
        w = World(db_url, make_sessionmaker(engine), redis_url, redis_proxy, smtp_proxy, sink,
                  logs, pg)  # fmt: skip
        stack.callback(_stop_all, w)
        yield w


def _stop_all(w: World) -> None:
    for proc in w.procs:
        if proc.poll() is None:
            w.kill(proc, signal.SIGKILL)


def report(name: str, counts: Counts, **figures: object) -> None:
    """Latencies and figures are printed (pytest -s, or the CI log), never asserted."""
    extra = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[{name}] {counts.line()} {extra}", flush=True)


def attempts(w: World) -> Counter[int]:
    return Counter(r.attempts for r in w.rows())


@contextmanager
def web_server(settings: Settings) -> Iterator[str]:
    """The real web app (service.web.app.create_app) served by uvicorn on 127.0.0.1."""
    import uvicorn

    from service.web.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def children(pid: int) -> list[int]:
    """Direct children of a process (the Celery pool), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
