"""The delivery engine end to end, with its ceilings measured in the same run.

    .venv/bin/python -m tests.benchmarks.bench_pipeline [--subscribers 100000] [--papers 1000]

PostgreSQL (a throwaway database), a private redis-server as the broker, one
``celery worker --concurrency 2`` (two pool processes), Postfix's ``smtp-sink`` on 127.0.0.1
(``PAPERPOST_SMTP_SINK`` / ``PAPERPOST_SMTP_SOURCE``, or ``var/postfix`` as ``.ci/run`` extracts
it). Each subscriber has a keyword interest and five matches among a day of papers; every one is
due. Measured:

- digests/s end to end: from the start of ``plan_editions`` to the commit of the last ``sent``
  (DKIM off), and the send stage alone (first to last ``sent``);
- peak memory (VmHWM) of every process, and the workers' resident memory at 25/50/100 %;
- the CPU the two pool processes spent per digest;
- ceilings: ``smtp-source`` into the same sink (1 and 16 connections), and aiosmtplib alone in
  two processes sending pre-built digests over one reused connection each, and over as many
  connections as the worker's pool;
- the send stage alone: two processes sending the same pre-built digest through paperpost's
  pooled ``SmtpMailer``, each ``sent`` committed through the group commit (rows of the run),
  against aiosmtplib alone on as many connections;
- DKIM: the cost of signing one digest (dkimpy, 2048-bit), per message.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import re
import resource
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from service import pipeline
from service.config import Settings
from service.store.db import make_engine, make_sessionmaker, transaction
from service.store.models import Delivery, DeliveryStatus
from tests.faults.harness import drop_template, fault_database
from tests.servers import free_port, private_redis

ROOT = Path(__file__).resolve().parents[2]
POSTFIX = ROOT / "var" / "postfix" / "usr"
SEED = ROOT.parent / "shared" / "data" / "seed_papers.json"
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
SECRET = "benchmark-secret-key-0123456789abcdef"


def postfix_tool(name: str) -> list[str]:
    path = os.environ.get(f"PAPERPOST_SMTP_{name.split('-')[1].upper()}") or str(
        POSTFIX / "sbin" / name
    )
    if not Path(path).exists():
        sys.exit(f"{name} not found: set PAPERPOST_SMTP_{name.split('-')[1].upper()} (see .ci/run)")
    return [path]


def postfix_env() -> dict[str, str]:
    libs = POSTFIX / "lib" / "postfix"
    return {**os.environ, "LD_LIBRARY_PATH": f"{libs}:{os.environ.get('LD_LIBRARY_PATH', '')}"}


@contextmanager
def smtp_sink(port: int) -> Any:
    proc = subprocess.Popen([*postfix_tool("smtp-sink"), "-u", "nobody", f"127.0.0.1:{port}", "256"],
                            env=postfix_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(0.5)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def seed(factory: Any, subscribers: int, papers: int) -> None:
    """Papers from the shared seed set (cycled), subscribers, interests and five matches each,
    built inside PostgreSQL so the setup does not dominate the run."""
    data = json.loads(SEED.read_text())["papers"]
    rows = [
        {"arxiv_id": f"2611.{i:05d}", "title": data[i % len(data)]["title"],
         "summary": data[i % len(data)]["summary"], "authors": [{"name": "A. Researcher"}],
         "categories": ["cs.LG"], "abs_url": f"https://arxiv.org/abs/2611.{i:05d}",
         "pdf_url": f"https://arxiv.org/pdf/2611.{i:05d}", "upvotes": i % 50,
         "trending_date": NOW.date(), "published_at": NOW}
        for i in range(papers)
    ]  # fmt: skip
    with transaction(factory) as session:
        session.execute(
            text("INSERT INTO papers (arxiv_id, title, summary, authors, categories, abs_url, "
                 "pdf_url, upvotes, trending_date, published_at, ai_keywords, sources, "
                 "source_ids, ingested_at, updated_at, match_pending, num_comments, "
                 "enrich_attempts) VALUES (:arxiv_id, :title, :summary, CAST(:authors AS json), "
                 "CAST(:categories AS json), :abs_url, :pdf_url, :upvotes, :trending_date, "
                 ":published_at, '[]', '[\"file\"]', '{}', now(), now(), false, 0, 0)"),
            [{**r, "authors": json.dumps(r["authors"]), "categories": json.dumps(r["categories"]),
              "published_at": NOW.replace(tzinfo=None)} for r in rows],
        )  # fmt: skip
        session.execute(text(
            "INSERT INTO subscribers (email, status, timezone, send_hour, frequency, weekday, "
            "max_papers, include_trending, format, summary_style, token_secret, soft_bounces, "
            "created_at, updated_at, confirmed_at) SELECT 'reader' || n || '@example.org', "
            "'active', 'UTC', 8, 'daily', 0, 5, true, 'html', 'abstract', md5(n::text), 0, "
            "now(), now(), now() FROM generate_series(1, :n) AS n"), {"n": subscribers})  # fmt: skip
        session.execute(text(
            "INSERT INTO interests (subscriber_id, kind, value, negated, weight, created_at, "
            "backfill_pending) SELECT id, 'keyword', 'diffusion models', false, 1.0, now(), "
            "false FROM subscribers"))  # fmt: skip
        session.execute(text(
            "INSERT INTO matches (subscriber_id, paper_id, score, reasons, created_at) "
            "SELECT s.id, p.id, 5 - k, '[\"diffusion models\"]', now() FROM subscribers s "
            "CROSS JOIN generate_series(0, 4) AS k JOIN papers p ON p.arxiv_id = "
            "'2611.' || lpad(((s.id * 7 + k * 13) % :papers)::text, 5, '0')"),
            {"papers": papers})  # fmt: skip
        session.execute(text("ANALYZE"))


def vm(pid: int, field: str) -> int:
    """VmHWM / VmRSS of a process in MiB."""
    try:
        found = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return 0
    return int(found.group(1)) // 1024 if found else 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pool_pids(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def worker_env(settings: Settings, db_url: str, broker: str, port: int) -> dict[str, str]:
    return {**os.environ, "PAPERPOST_DATABASE_URL": db_url, "PAPERPOST_BROKER_URL": broker,
            "PAPERPOST_SMTP_PORT": str(port), "PAPERPOST_SECRET_KEY": SECRET,
            "PAPERPOST_MAIL_FROM": settings.mail_from,
            "PAPERPOST_PUBLIC_BASE_URL": settings.public_base_url,
            "PAPERPOST_BATCH_SIZE": str(settings.batch_size), "PYTHONPATH": str(ROOT)}  # fmt: skip


def end_to_end(
    settings: Settings, db_url: str, broker: str, port: int, total: int
) -> dict[str, Any]:
    factory = make_sessionmaker(make_engine(db_url))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--concurrency=2",
         "--loglevel=warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=worker_env(settings, db_url, broker, port), start_new_session=True,
    )  # fmt: skip
    from workers.app import create_app

    app = create_app(settings)
    time.sleep(6)  # the worker is up and idle before the clock starts
    pool = pool_pids(worker.pid)
    cpu_before = sum(cpu_seconds(p) for p in pool)
    started = time.perf_counter()
    with app.connection_for_write() as conn:

        def enqueue(ids: list[int]) -> None:  # as the plan task does: each page after its commit
            for i in range(0, len(ids), settings.batch_size):
                app.send_task("paperpost.deliver_batch", args=[ids[i : i + settings.batch_size]],
                              connection=conn)  # fmt: skip

        planned = pipeline.plan_editions(factory, settings, NOW, on_page=enqueue).planned
    plan_s = time.perf_counter() - started
    rss: dict[str, list[int]] = {}
    marks = [0.25, 0.5, 1.0]
    while True:
        with factory() as session:
            sent = session.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.status == DeliveryStatus.sent)) or 0  # fmt: skip
        while marks and sent >= marks[0] * len(planned):
            rss[f"{int(marks.pop(0) * 100)}%"] = [vm(p, "VmRSS") for p in pool_pids(worker.pid)]
        if sent >= len(planned):
            break
        time.sleep(0.2)
    total_s = time.perf_counter() - started
    pool_cpu = sum(cpu_seconds(p) for p in pool) - cpu_before
    with factory() as session:
        first, last = session.execute(select(func.min(Delivery.sent_at),
                                             func.max(Delivery.sent_at))).one()  # fmt: skip
    peaks = {"worker_main": vm(worker.pid, "VmHWM"),
             "pool": [vm(p, "VmHWM") for p in pool_pids(worker.pid)],
             "planner_and_harness": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}  # fmt: skip
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(60)
    send_s = (last - first).total_seconds()
    return {"digests": len(planned), "plan_s": round(plan_s, 1), "total_s": round(total_s, 1),
            "digests_per_s": round(len(planned) / total_s, 1),
            "send_stage_per_s": round(len(planned) / send_s, 1) if send_s else None,
            "pool_cpu_ms_per_digest": round(pool_cpu / len(planned) * 1000, 2),
            "peak_mib": peaks, "pool_rss_mib": rss}  # fmt: skip


def smtp_source(port: int, messages: int, sessions: int, size: int) -> float:
    started = time.perf_counter()
    subprocess.run([*postfix_tool("smtp-source"), "-d", "-m", str(messages), "-s", str(sessions),
                    "-l", str(size), f"127.0.0.1:{port}"], env=postfix_env(), check=True)  # fmt: skip
    return round(messages / (time.perf_counter() - started), 1)


def _send_stage(settings: Settings, data: bytes, ids: list[int]) -> None:
    """paperpost's send stage on pre-built messages: the pooled ``SmtpMailer`` with its
    classification, and each ``sent`` committed through the batch's group commit before the
    connection takes the next message (rows of the run, recorded as sent again)."""
    from service.pipeline.outcome import Prepared, Recorder
    from service.send.mailer import Outgoing, SmtpMailer

    async def run() -> None:
        mailer = SmtpMailer(settings)
        recorder = Recorder(make_sessionmaker(make_engine(settings.database_url)))
        queue = list(reversed(ids))

        async def sender() -> None:
            while queue:
                delivery_id = queue.pop()
                message = Outgoing("digest@paperpost.example", f"r{delivery_id}@example.org", data)
                result = await mailer.send(message)
                assert result.outcome == "sent", result
                p = Prepared(delivery_id, message, "digest", 1, NOW)
                await recorder.sent(p, result, dt.datetime.now(dt.UTC))

        await asyncio.gather(*(sender() for _ in range(settings.smtp_pool_size)))
        await recorder.close()
        await mailer.close()

    asyncio.run(run())


def send_stage(settings: Settings, data: bytes, ids: list[int], processes: int) -> float:
    ctx = multiprocessing.get_context("fork")
    share = len(ids) // processes
    procs = [
        ctx.Process(target=_send_stage, args=(settings, data, ids[n * share : (n + 1) * share]))
        for n in range(processes)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0, "the send stage failed"
    return round(share * processes / (time.perf_counter() - started), 1)


def _aiosmtplib_alone(port: int, data: bytes, count: int, connections: int = 1) -> None:
    import aiosmtplib

    async def one(count: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for n in range(count):
            await client.sendmail("digest@paperpost.example", [f"r{n}@example.org"], data)
        await client.quit()

    async def run() -> None:
        await asyncio.gather(*(one(count // connections) for _ in range(connections)))

    asyncio.run(run())


def aiosmtplib_alone(
    port: int, data: bytes, count: int, processes: int, connections: int = 1
) -> float:
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_aiosmtplib_alone, args=(port, data, count, connections))
        for _ in range(processes)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return round(
        count // connections * connections * processes / (time.perf_counter() - started), 1
    )


def sample_digest(settings: Settings, db_url: str) -> tuple[bytes, float]:
    """A real digest from the run's database, and the cost of DKIM-signing it (ms)."""
    import dkim

    factory = make_sessionmaker(make_engine(db_url))
    with factory() as session:
        row = session.scalar(
            select(Delivery).where(Delivery.status == DeliveryStatus.sent).limit(1)
        )
        assert row is not None
        from service.content import compose_for, render_delivery
        from service.store.models import Subscriber

        person = session.get(Subscriber, row.subscriber_id)
        rendered = render_delivery(session, settings, row, person, NOW)
        data = compose_for(settings, rendered, person, row.message_id, NOW, row.kind).data
    key = (ROOT / "tests" / "send" / "data" / "dkim-test-2048.pem").read_bytes()
    started = time.perf_counter()
    for _ in range(50):
        dkim.sign(data, b"bench", b"paperpost.example", key,
                  include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                   b"list-unsubscribe", b"list-unsubscribe-post"])  # fmt: skip
    return data, round((time.perf_counter() - started) / 50 * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=1_000)
    args = parser.parse_args()
    result: dict[str, Any] = {"subscribers": args.subscribers, "papers": args.papers}
    with ExitStack() as stack:
        db_url = stack.enter_context(fault_database())
        stack.callback(drop_template)
        broker = stack.enter_context(private_redis())
        port = free_port()
        stack.enter_context(smtp_sink(port))
        settings = Settings(_env_file=None, database_url=db_url, broker_url=broker,  # type: ignore[call-arg]
                            smtp_port=port, secret_key=SECRET, batch_size=200,
                            mail_from="digest@paperpost.example",
                            public_base_url="https://paperpost.example")  # fmt: skip
        started = time.perf_counter()
        seed(make_sessionmaker(make_engine(db_url)), args.subscribers, args.papers)
        result["seed_s"] = round(time.perf_counter() - started, 1)
        result["end_to_end"] = end_to_end(settings, db_url, broker, port, args.subscribers)
        data, dkim_ms = sample_digest(settings, db_url)
        result["message_bytes"] = len(data)
        result["dkim_sign_ms_per_message"] = dkim_ms
        result["ceiling"] = {
            "smtp_source_1_connection": smtp_source(port, 20_000, 1, len(data)),
            "smtp_source_16_connections": smtp_source(port, 50_000, 16, len(data)),
            "aiosmtplib_alone_2_processes": aiosmtplib_alone(port, data, 5_000, 2),
            "aiosmtplib_alone_2_processes_pool": aiosmtplib_alone(
                port, data, 5_000, 2, settings.smtp_pool_size
            ),
        }
        with make_engine(db_url).connect() as conn:
            ids = list(conn.scalars(select(Delivery.id).order_by(Delivery.id).limit(10_000)))
        result["send_stage_alone_2_processes"] = send_stage(settings, data, ids, 2)
        e2e = result["end_to_end"]
        alone = result["ceiling"]["aiosmtplib_alone_2_processes_pool"]
        result["send_stage_vs_aiosmtplib_alone"] = round(
            result["send_stage_alone_2_processes"] / alone, 2
        )
        result["end_to_end_vs_aiosmtplib_alone"] = round(e2e["digests_per_s"] / alone, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
