"""Fixtures for the source tests: a real HTTP server on 127.0.0.1 standing in for Hugging Face,
the arXiv API and rss.arxiv.org, and settings that point every source at it with short
timeouts and backoff, so failure paths run in milliseconds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from service.config import Settings
from service.ingest.http import Fetcher, policy_for
from tests.conftest import SAMPLES
from tests.ingest import handmade
from tests.ingest.httpserver import Reply, Request, Server, http_server

HF_2025 = json.loads((SAMPLES / "hf_daily_papers_2025-09-12.json").read_bytes())
RSS_SAMPLE = (SAMPLES / "arxiv_rss_2026-09-24_excerpt.xml").read_bytes()


@pytest.fixture
def server() -> Iterator[Server]:
    with http_server() as running:
        yield running


@pytest.fixture
def source_settings(settings: Settings, server: Server) -> Settings:
    return settings.model_copy(
        update={
            "hf_base_url": server.url,
            "arxiv_api_url": f"{server.url}/api/query",
            "arxiv_rss_url": f"{server.url}/rss",
            "arxiv_min_interval": 0.0,
            "hf_min_interval": 0.0,
            "http_timeout": 2.0,
            "http_retries": 1,
            "http_backoff": 0.01,
            "admin_email": "ops@paperpost.example",
        }
    )


@pytest.fixture
def fetcher(source_settings: Settings) -> Iterator[Fetcher]:
    with Fetcher(policy_for(source_settings)) as running:
        yield running


def paged(items: list[dict[str, Any]]) -> Any:
    """An HF endpoint that pages ``items`` by ``limit`` and ``p`` as the real one does."""

    def respond(request: Request) -> Reply:
        limit, page = int(request.query.get("limit", 50)), int(request.query.get("p", 0))
        return Reply(200, json.dumps(items[page * limit : (page + 1) * limit]).encode())

    return respond


def arxiv_lookup(known: dict[str, str]) -> Any:
    """An arXiv API that answers ``id_list`` from ``known`` (id -> primary category) and
    silently leaves out ids it does not know, as the real one does."""

    def respond(request: Request) -> Reply:
        ids = request.query.get("id_list", "").split(",")
        entries = [
            handmade.arxiv_entry(i, categories=(known[i], "cs.AI"), affiliation="Oxford")
            for i in ids
            if i in known
        ]
        return Reply(200, handmade.arxiv_feed(*entries))

    return respond
