"""``paperpost ingest`` and ``paperpost papers`` against a local server and from files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.store import migrate
from tests.conftest import SAMPLES
from tests.ingest import handmade
from tests.ingest.conftest import HF_2025, RSS_SAMPLE, arxiv_lookup, paged
from tests.ingest.httpserver import Reply, Server

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, server: Server, monkeypatch: pytest.MonkeyPatch) -> Settings:
    values = {
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "HF_BASE_URL": server.url,
        "ARXIV_API_URL": f"{server.url}/api/query",
        "ARXIV_RSS_URL": f"{server.url}/rss",
        "ARXIV_MIN_INTERVAL": "0",
        "HF_MIN_INTERVAL": "0",
        "HTTP_RETRIES": "1",
        "HTTP_BACKOFF": "0.01",
        "HTTP_TIMEOUT": "2",
        "ARXIV_CATEGORIES": '["cs.LG"]',
    }
    for name, value in values.items():
        monkeypatch.setenv(f"PAPERPOST_{name}", value)
    migrate.upgrade(settings.database_url)
    return settings


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_hf_by_date_with_enrichment(env: Settings, server: Server) -> None:
    server.respond("/api/daily_papers", paged(HF_2025))
    server.respond("/api/query", arxiv_lookup({item["paper"]["id"]: "cs.CV" for item in HF_2025}))
    code, out = invoke("ingest", "hf", "--date", "2025-09-12", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["source"], report["target"], report["new"], report["enriched"]) == (
        "hf", "2025-09-12", 15, 15,
    )  # fmt: skip
    assert server.asked("/api/daily_papers")[0].query["date"] == "2025-09-12"
    code, out = invoke("papers", "show", "https://arxiv.org/abs/2509.08519v2", "--json")
    assert code == 0 and json.loads(out)["categories"] == ["cs.CV", "cs.AI"]
    code, out = invoke("papers", "show", "2509.08519")
    assert code == 0 and "A paper" in out  # the arXiv stub's title wins over HF's
    assert "cs.CV cs.AI" in out and "Oxford" in out and "upvotes" in out


def test_human_summary_lists_skipped_reasons(env: Settings, server: Server) -> None:
    items = [handmade.hf_2026_item("2608.00001"), {"paper": {"title": "no id"}}]
    server.respond("/api/daily_papers", paged(items))
    code, out = invoke("ingest", "hf", "--week", "2026-W34", "--no-enrich")
    assert code == 0, out
    assert "hf 2026-W34: fetched 2, new 1, updated 0, unchanged 0, skipped 1" in out
    assert "skipped: item 2: missing paper.id" in out


def test_a_source_that_is_down_exits_1_and_says_so(env: Settings, server: Server) -> None:
    server.script("/api/daily_papers", Reply(502, b"Bad Gateway"))
    code, out = invoke("ingest", "hf", "--no-enrich")
    assert code == 1 and "HTTP 502" in out and "nothing was stored" in out
    code, out = invoke("ingest", "runs", "--json")
    (run,) = json.loads(out)
    assert run["source"] == "hf" and "HTTP 502" in run["errors"][0]


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "hf", "--week", "2026-34"),
        ("ingest", "hf", "--date", "2026-08-20", "--month", "2026-08"),
        ("ingest", "rss", "cs.LG/../x"),
        ("ingest", "arxiv", "--category", "cs.LG) OR (x"),
        ("ingest", "run", "mastodon"),
    ],
)
def test_usage_errors_exit_2(env: Settings, args: tuple[str, ...]) -> None:
    code, _ = invoke(*args)
    assert code == 2


def test_rss_from_the_server_and_from_a_file(env: Settings, server: Server, tmp_path: Path) -> None:
    server.script("/rss/cs.LG+stat.ML", Reply(200, RSS_SAMPLE))
    code, out = invoke("ingest", "rss", "cs.LG", "stat.ML", "--json")
    assert code == 0 and json.loads(out)["new"] == 2
    saved = tmp_path / "feed.xml"
    saved.write_bytes(RSS_SAMPLE)
    code, out = invoke("ingest", "rss", "--file", str(saved), "--cross", "--json")
    assert code == 0 and json.loads(out)["new"] == 1  # the cross-list, now followed


def test_arxiv_search_and_file(env: Settings, server: Server) -> None:
    entry = handmade.arxiv_entry("2611.00001", published="2026-11-26T10:00:00Z")
    server.script("/api/query", Reply(200, handmade.arxiv_feed(entry)))
    code, out = invoke("ingest", "arxiv", "-c", "cs.LG", "-q", "diffusion", "--since", "2026-11-20",
                       "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["new"] == 1
    code, out = invoke(
        "ingest",
        "arxiv",
        "--file",
        str(SAMPLES / "arxiv_api_search_testing_start0_max10.xml"),
        "--json",
    )
    assert code == 0 and json.loads(out)["new"] == 10


def test_file_detects_each_format(env: Settings) -> None:
    for name, new in [
        ("hf_daily_papers_2024-05-29.json", 8),
        ("arxiv_rss_2026-09-24_excerpt.xml", 2),
        ("arxiv_api_search_testing_start0_max10.xml", 10),
    ]:
        code, out = invoke("ingest", "file", str(SAMPLES / name), "--json")
        assert code == 0 and json.loads(out)["new"] == new, out


def test_hostile_xml_file_stores_nothing(env: Settings, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(handmade.BILLION_LAUGHS)
    code, out = invoke("ingest", "file", str(bomb))
    assert code == 1 and "refused unsafe XML" in out and "nothing was stored" in out
    assert json.loads(invoke("papers", "list", "--json")[1]) == []


def test_run_continues_past_a_source_that_is_down(env: Settings, server: Server) -> None:
    server.script("/api/daily_papers", Reply(500))
    server.script("/rss/cs.LG", Reply(200, RSS_SAMPLE))
    code, out = invoke("ingest", "run", "hf", "rss", "--json")
    assert code == 1
    hf, feed = json.loads(out)
    assert hf["failed"] and feed["new"] == 2


def test_papers_list_filters(env: Settings) -> None:
    invoke("ingest", "file", str(SAMPLES / "hf_daily_papers_2024-05-29.json"))
    invoke("ingest", "file", str(SAMPLES / "arxiv_rss_2026-09-24_excerpt.xml"))
    code, out = invoke("papers", "list", "--source", "rss", "--json")
    assert code == 0 and {p["arxiv_id"] for p in json.loads(out)} == {"2609.26811", "2609.26820"}
    code, out = invoke("papers", "list", "--since", "2000-01-01", "--limit", "3", "--json")
    assert len(json.loads(out)) == 3
    code, out = invoke("papers", "list")
    assert code == 0 and "10 papers" in out
    code, out = invoke("papers", "show", "2401.99999")
    assert code == 1 and "no paper 2401.99999" in out
