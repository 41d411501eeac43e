"""The broker and the scheduler: F05 Redis flushed with every task queued, F06 Redis down during
a batch and during subscriptions, F07 two beat processes (plain: the unique key holds; RedBeat:
one lock, one publication per tick), F08 an ETA beyond the visibility timeout."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import httpx
import redis
from sqlalchemy import func, select

from service.store.models import Delivery, DeliveryKind
from tests.faults.harness import (
    ROWS,
    report,
    seed_subscribers,
    wait_until,
    web_server,
    world,
)


def test_f05_redis_flushed_with_everything_queued(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        ids = w.seed(ROWS)
        w.enqueue(ids)
        client = redis.Redis.from_url(w.redis_url)
        assert client.llen("celery") == len(ids) // 100
        client.flushall()
        started = time.time()
        w.start_worker()
        w.start_beat()
        assert w.wait_done(120), w.statuses()
        counts = w.counts()
        report("F05", counts, recovered_s=round(time.time() - started, 1))
        assert (counts.lost, counts.dup_distinct, counts.dup_raw, counts.stuck) == (0, 0, 0, 0)


def subscribe_all(base: str, emails: list[str], codes: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as client:
        for email in emails:
            form = client.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            response = client.post("/", data={"email": email, "interests": "diffusion models",
                                              "csrf_token": token.group(1), "timezone": "UTC",
                                              "send_hour": "8", "frequency": "daily"})  # fmt: skip
            codes.append(response.status_code)


def test_f06_redis_down_during_a_batch_and_subscriptions(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        ids = w.seed(ROWS)
        worker = w.start_worker()
        w.start_beat()
        web = w.settings.model_copy(update={"redis_url": w.broker_url,
                                            "subscribe_per_ip_hour": 1000})  # fmt: skip
        with web_server(web) as base:
            w.enqueue(ids)
            assert wait_until(lambda: len(w.sink.arrivals) >= ROWS // 3, 120)
            w.redis_proxy.cut()
            codes: list[int] = []
            posting = threading.Thread(
                target=subscribe_all, args=(base, [f"new{n}@example.org" for n in range(50)], codes)
            )
            posting.start()
            time.sleep(15)
            posting.join(60)
            w.redis_proxy.restore()
            assert w.wait_done(180), w.statuses()
        counts = w.counts()
        with w.factory() as session:
            confirms = session.scalar(select(func.count()).select_from(Delivery)
                                      .where(Delivery.kind == DeliveryKind.confirm))  # fmt: skip
        report("F06", counts, posts=len(codes), statuses=sorted(set(codes)), confirms=confirms)
        assert len(codes) == 50 and all(c < 500 for c in codes)
        assert confirms == 50  # every confirmation mail is in the outbox
        assert worker.poll() is None  # reconnected, no crash loop
        assert (counts.lost, counts.dup_distinct, counts.stuck) == (0, 0, 0)


def published(client: redis.Redis, task: str) -> int:
    count = 0
    for raw in client.lrange("celery", 0, -1):
        if json.loads(raw).get("headers", {}).get("task") == task:
            count += 1
    return count


def test_f07a_two_plain_beats_one_delivery_each(tmp_path: Path) -> None:
    """A misconfiguration: two ordinary beats publish every plan twice; the (subscriber, kind,
    edition) key turns the second build into nothing, and no extra mail goes out."""
    with world(tmp_path) as w:
        seed_subscribers(w.factory, 200, send_hour=0)
        w.start_worker()
        beats = [w.start_beat(f"beat{n}", PAPERPOST_FAULT_BEAT="plan") for n in (1, 2)]
        time.sleep(3 * 2 + 1)  # three plan periods of 2 s
        assert wait_until(lambda: len(w.rows()) >= 200, 60)
        assert w.wait_done(60), w.statuses()
        time.sleep(2)
        for beat in beats:
            w.kill(beat)
        counts = w.counts()
        log = w.log_text()
        runs = log.count("Sending due task plan")
        report("F07a", counts, plan_publications=runs)
        per_subscriber = {}
        for row in w.rows():
            per_subscriber[row.subscriber_id] = per_subscriber.get(row.subscriber_id, 0) + 1
        assert len(per_subscriber) == 200 and set(per_subscriber.values()) == {1}
        assert (counts.lost, counts.dup_raw, counts.dup_distinct) == (0, 0, 0)
        assert runs >= 4  # both beats really did publish


def test_f07b_two_redbeats_one_lock_one_publication_per_tick(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        env = {"PAPERPOST_BEAT_SCHEDULER": "redbeat", "PAPERPOST_REDIS_URL": w.redis_url,
               "PAPERPOST_FAULT_BEAT": "plan"}  # fmt: skip
        first = w.start_beat("redbeat1", **env)
        second = w.start_beat("redbeat2", **env)
        client = redis.Redis.from_url(w.redis_url)
        # Count from the first publication: starting two beats can take a while on a busy host.
        assert wait_until(lambda: published(client, "paperpost.plan_editions") > 0, 60)
        before, started = published(client, "paperpost.plan_editions"), time.time()
        time.sleep(10)
        ticks = (time.time() - started) / 2
        plans = published(client, "paperpost.plan_editions") - before
        locks = client.keys("paperpost:redbeat*lock*")
        logs = [(w.logs / f"redbeat{n}.log").read_text() for n in (1, 2)]
        senders = [n for n, text in enumerate(logs, 1) if "Sending due task plan" in text]
        # The standby takes over once the holder is gone and the lock expires (10 s scaled).
        holder = first if senders == [1] else second
        w.kill(holder)
        seen = published(client, "paperpost.plan_editions")
        took_over = wait_until(lambda: published(client, "paperpost.plan_editions") > seen, 30)
        report("F07b", w.counts(), plans=plans, ticks=round(ticks, 1), senders=senders,
               takeover=took_over)  # fmt: skip
        assert len(locks) == 1
        assert len(senders) == 1
        assert plans <= ticks + 2
        assert took_over


def test_f08_eta_beyond_the_visibility_timeout(tmp_path: Path) -> None:
    """Redis redelivers an unacked ETA task once the visibility timeout passes, so Celery runs
    it more than once; the claim keeps the mail single."""
    with world(tmp_path) as w:
        ids = w.seed(1)
        w.start_worker(PAPERPOST_VISIBILITY_TIMEOUT="10")
        w.enqueue(ids, countdown=30)
        assert w.wait_done(90), w.statuses()
        time.sleep(15)  # a redelivered copy would run now
        counts = w.counts()
        runs = subprocess.run(["grep", "-c", "paperpost.deliver_batch", *map(str, w.logs.glob("*.log"))],
                              capture_output=True, text=True).stdout  # fmt: skip
        report("F08", counts, log_lines=runs.strip())
        assert len(w.sink.arrivals) == 1
        assert (counts.lost, counts.dup_raw) == (0, 0)
