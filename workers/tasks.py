"""Thin tasks: each builds its arguments from Settings and calls one pipeline function.
Only ids cross the broker; digests are enqueued after the plan commits."""

from __future__ import annotations

import datetime as dt
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.send.mailer import SmtpMailer
from service.store.db import make_engine, make_sessionmaker
from workers.app import app


@cache
def _settings() -> Settings:
    return Settings()


@cache
def _factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(_settings().database_url))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def enqueue(ids: list[int]) -> None:
    size = _settings().batch_size
    for start in range(0, len(ids), size):
        deliver_batch.delay(ids[start : start + size])


@app.task(name="paperpost.ingest_configured")
def ingest_configured() -> None:
    for path in _settings().ingest_files:
        pipeline.ingest_file(_factory(), path, _now())


@app.task(name="paperpost.match_new_papers")
def match_new_papers() -> None:
    pipeline.match_new_papers(_factory(), _now(), _settings().match_window_days)


@app.task(name="paperpost.plan_editions")
def plan_editions() -> None:
    enqueue(pipeline.plan_editions(_factory(), _settings(), _now()).planned)


@app.task(name="paperpost.sweep_due")
def sweep_due() -> None:
    enqueue(pipeline.sweep_due(_factory(), _now()))


@app.task(name="paperpost.deliver_batch")
def deliver_batch(ids: list[int]) -> None:
    pipeline.deliver_batch(_factory(), _settings(), SmtpMailer(_settings()), ids, _now)
