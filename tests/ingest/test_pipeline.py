"""The ingest use cases end to end against a real HTTP server on 127.0.0.1: HF with arXiv
enrichment, the announcement feed, the arXiv search; recorded runs, failures, idempotence."""

from __future__ import annotations

import copy
import datetime as dt
import json

from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.ingest import arxiv
from service.ingest.http import Fetcher
from service.store.models import Delivery, DeliveryKind, IngestRun, Paper
from tests.fakes import FakeClock
from tests.ingest import handmade
from tests.ingest.conftest import HF_2025, RSS_SAMPLE, arxiv_lookup, paged
from tests.ingest.httpserver import Reply, Server

Factory = sessionmaker[Session]
HF_IDS = [item["paper"]["id"] for item in HF_2025]
KNOWN = {i: "cs.CV" for i in HF_IDS[1:]}  # arXiv does not list the first one yet


def ingested(source: str, result: str) -> float:
    labels = {"source": source, "result": result}
    return REGISTRY.get_sample_value("paperpost_papers_ingested_total", labels) or 0.0


def papers(factory: Factory) -> dict[str, Paper]:
    with factory() as session:
        return {p.arxiv_id: p for p in session.scalars(select(Paper))}


def runs(factory: Factory) -> list[IngestRun]:
    with factory() as session:
        return list(session.scalars(select(IngestRun).order_by(IngestRun.id)))


def hf_today(factory: Factory, settings: Settings, fetcher: Fetcher, clock: FakeClock,
             **kwargs: object) -> pipeline.IngestReport:  # fmt: skip
    return pipeline.ingest_hf(
        factory,
        settings,
        fetcher,
        clock,
        query={"date": "2025-09-12"},
        **kwargs,  # type: ignore[arg-type]
    )


def test_hf_papers_arrive_with_arxiv_categories(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.respond("/api/daily_papers", paged(HF_2025))
    server.respond("/api/query", arxiv_lookup(KNOWN))
    counted = ingested("hf", "new")
    report = hf_today(factory, source_settings, fetcher, clock)
    assert (report.failed, report.fetched, report.new, report.enriched) == (False, 15, 15, 14)
    assert ingested("hf", "new") - counted == 15
    (lookup,) = server.asked("/api/query")
    assert lookup.query["id_list"].split(",") == HF_IDS and lookup.query["max_results"] == "15"
    stored = papers(factory)
    known = stored[HF_IDS[1]]
    assert known.categories == ["cs.CV", "cs.AI"] and known.enriched_at == clock.now
    assert known.authors[0]["affiliations"] == ["Oxford"] and known.upvotes > 0
    assert set(known.sources) == {"hf", "arxiv"} and known.match_pending
    first = stored[HF_IDS[0]]
    assert first.categories == [] and first.enrich_attempts == 1 and first.enriched_at is None
    (run,) = runs(factory)
    assert (run.source, run.target, run.fetched, run.new, run.updated) == (
        "hf",
        "2025-09-12",
        15,
        15,
        0,
    )
    assert run.started_at == clock.now and run.finished_at == clock.now


def test_running_twice_stores_nothing_twice(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.respond("/api/daily_papers", paged(HF_2025))
    server.respond("/api/query", arxiv_lookup(KNOWN))
    hf_today(factory, source_settings, fetcher, clock)
    clock.advance(minutes=30)
    again = hf_today(factory, source_settings, fetcher, clock)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 15)
    assert len(papers(factory)) == 15
    second_lookup = server.asked("/api/query")[-1]
    assert second_lookup.query["id_list"] == HF_IDS[0]  # only the one still missing


def test_upvotes_move_during_the_day(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.respond("/api/query", arxiv_lookup(KNOWN))
    server.respond("/api/daily_papers", paged(HF_2025))
    hf_today(factory, source_settings, fetcher, clock)
    later = copy.deepcopy(HF_2025)
    later[3]["paper"]["upvotes"] += 40
    server.respond("/api/daily_papers", paged(later))
    report = hf_today(factory, source_settings, fetcher, clock)
    assert (report.new, report.updated) == (0, 1)
    assert papers(factory)[HF_IDS[3]].upvotes == HF_2025[3]["paper"]["upvotes"] + 40


def test_a_failed_lookup_is_retried_on_a_later_run(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.respond("/api/daily_papers", paged(HF_2025))
    server.script("/api/query", Reply(503, b"maintenance"))
    report = hf_today(factory, source_settings, fetcher, clock)
    assert report.new == 15 and report.enriched == 0 and not report.failed
    assert "arXiv lookup of 15 papers failed" in report.errors[0]
    assert all(p.categories == [] and p.enrich_attempts == 1 for p in papers(factory).values())
    server.respond("/api/query", arxiv_lookup(KNOWN))
    with factory() as session, session.begin():
        session.execute(Paper.__table__.update().values(match_pending=False))
    report = hf_today(factory, source_settings, fetcher, clock)
    assert report.enriched == 14
    known = papers(factory)[HF_IDS[1]]
    assert known.categories == ["cs.CV", "cs.AI"] and known.match_pending  # matched again


def test_hf_pages_until_a_short_page(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    items = [handmade.hf_2026_item(f"2608.{i:05d}") for i in range(250)]
    server.respond("/api/daily_papers", paged(items))
    report = pipeline.ingest_hf(
        factory, source_settings, fetcher, clock, query={"week": "2026-W34"}, enrich=False
    )
    assert report.new == 250
    asked = server.asked("/api/daily_papers")
    assert [(r.query["week"], r.query["p"], r.query["limit"]) for r in asked] == [
        ("2026-W34", "0", "100"), ("2026-W34", "1", "100"), ("2026-W34", "2", "100"),
    ]  # fmt: skip


def test_a_server_that_ignores_the_page_does_not_loop(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    items = [handmade.hf_2026_item(f"2608.{i:05d}") for i in range(100)]
    server.script("/api/daily_papers", Reply(200, json.dumps(items).encode()))
    report = pipeline.ingest_hf(
        factory, source_settings, fetcher, clock, query={"month": "2026-08"}, enrich=False
    )
    assert report.new == 100 and len(server.asked("/api/daily_papers")) == 2


def test_scheduled_hf_reads_today_and_the_day_before(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.respond("/api/daily_papers", paged(HF_2025))
    server.respond("/api/query", arxiv_lookup(KNOWN))
    (report,) = pipeline.ingest_source(factory, source_settings, fetcher, clock, "hf")
    dates = [r.query["date"] for r in server.asked("/api/daily_papers")]
    assert dates == ["2026-11-27", "2026-11-26"] and report.target == "2026-11-27, 2026-11-26"
    assert report.new == 15  # the same papers twice are stored once


def test_a_source_that_is_down_stores_nothing_and_is_recorded(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.script("/api/daily_papers", Reply(500, b"Internal Server Error"))
    errors = REGISTRY.get_sample_value("paperpost_ingest_errors_total", {"source": "hf"}) or 0
    report = hf_today(factory, source_settings, fetcher, clock)
    assert report.failed and "HTTP 500" in report.errors[0] and papers(factory) == {}
    after = REGISTRY.get_sample_value("paperpost_ingest_errors_total", {"source": "hf"})
    assert after == errors + 1
    (run,) = runs(factory)
    assert run.source == "hf" and run.new == 0 and "HTTP 500" in run.errors[0]


def test_a_truncated_answer_stores_nothing(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    body = json.dumps(HF_2025).encode()
    server.script("/api/daily_papers", Reply(200, body[: len(body) // 2]))
    report = hf_today(factory, source_settings, fetcher, clock)
    assert report.failed and "not valid JSON" in report.errors[0]
    assert papers(factory) == {} and len(runs(factory)) == 1


def test_bad_items_are_reported_and_the_others_stored(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    items = [handmade.hf_2026_item("2608.00001"), {"paper": {"title": "no id"}},
             handmade.hf_2026_item("2608.00003", summary="x" * 10_000_000)]  # fmt: skip
    server.respond("/api/daily_papers", paged(items))
    report = hf_today(factory, source_settings, fetcher, clock, enrich=False)
    assert (report.fetched, report.new, report.failed) == (3, 1, False)
    assert report.skipped == [
        "item 2: missing paper.id",
        "item 3: 2608.00003: abstract is 10,000,000 characters, over the 200,000 limit",
    ]
    assert runs(factory)[0].skipped == 2


def test_the_announcement_feed(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.script("/rss/cs.LG+stat.ML", Reply(200, RSS_SAMPLE))
    report = pipeline.ingest_rss(
        factory, source_settings, fetcher, clock, categories=["cs.LG", "stat.ML"]
    )
    assert (report.fetched, report.new) == (4, 2)
    assert sorted(report.skipped) == [
        "2009.13987: replacement of a paper not stored",
        "2205.06398: replacement of a paper not stored",
    ]
    stored = papers(factory)
    assert set(stored) == {"2609.26811", "2609.26820"}
    assert stored["2609.26820"].categories == ["cs.LG", "cs.AI"]
    assert stored["2609.26820"].enriched_at == clock.now  # categories known: nothing to look up
    cross = pipeline.ingest_rss(
        factory, source_settings, fetcher, clock, categories=["cs.LG", "stat.ML"],
        include_cross=True,
    )  # fmt: skip
    assert cross.new == 1 and "2205.06398" in papers(factory)


def test_replacements_refresh_known_papers(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    pipeline.ingest_parsed(factory, "file", "seed", _one("2009.13987", version=1), clock.now)
    server.script("/rss/cs.LG", Reply(200, RSS_SAMPLE))
    report = pipeline.ingest_rss(factory, source_settings, fetcher, clock, categories=["cs.LG"])
    assert report.updated == 1
    paper = papers(factory)["2009.13987"]
    assert paper.version == 3 and "rss" in paper.sources


def test_an_empty_feed_is_a_normal_run(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.script("/rss/cs.LG", Reply(200, handmade.RSS_EMPTY))
    report = pipeline.ingest_rss(factory, source_settings, fetcher, clock, categories=["cs.LG"])
    assert (report.failed, report.fetched, report.errors) == (False, 0, [])
    assert len(runs(factory)) == 1


def test_arxiv_search(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    body = (handmade.arxiv_entry("2611.00002", published="2026-11-26T10:00:00Z", affiliation="MIT")
            + handmade.arxiv_entry("2611.00001", published="2026-11-25T10:00:00Z"))  # fmt: skip
    server.script("/api/query", Reply(200, handmade.arxiv_feed(body, total=2)))
    report = pipeline.ingest_arxiv(
        factory, source_settings, fetcher, clock, categories=["cs.LG"], query="diffusion",
        since=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
    )  # fmt: skip
    assert report.new == 2
    (asked,) = server.asked("/api/query")
    assert asked.query["search_query"].startswith("(cat:cs.LG) AND (all:diffusion) AND submitted")
    assert (asked.query["sortBy"], asked.query["sortOrder"]) == ("submittedDate", "descending")
    assert papers(factory)["2611.00002"].authors[0]["affiliations"] == ["MIT"]


def test_arxiv_error_feed_is_a_failed_run_with_arxivs_words(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.script("/api/query", Reply(400, handmade.ARXIV_ERROR))
    report = pipeline.ingest_arxiv(
        factory, source_settings, fetcher, clock, categories=[], query="id:abc"
    )
    assert report.failed and report.errors == ["arXiv API error: incorrect id format for abc"]
    assert len(server.asked("/api/query")) == 1  # a 400 is not retried


def test_a_400_that_is_not_an_error_feed_keeps_the_http_status(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.script("/api/query", Reply(400, b"<html><body>Bad Request</body></html>"))
    report = pipeline.ingest_arxiv(factory, source_settings, fetcher, clock, categories=["cs.LG"])
    assert report.failed and "HTTP 400" in report.errors[0]


def test_arxiv_search_pages_and_stops_at_since(server: Server, fetcher: Fetcher) -> None:
    days = [f"2026-11-{d:02d}T10:00:00Z" for d in (27, 26, 25, 24, 23)]
    entries = [handmade.arxiv_entry(f"2611.0000{i}", published=d) for i, d in enumerate(days)]

    def respond(request: object) -> Reply:
        start, size = int(request.query["start"]), int(request.query["max_results"])  # type: ignore[attr-defined]
        return Reply(200, handmade.arxiv_feed(*entries[start : start + size], total=5))

    server.respond("/api/query", respond)
    since = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    result = arxiv.search(fetcher, f"{server.url}/api/query", "cat:cs.LG", since=since, page_size=2)
    assert [p.arxiv_id for p in result.papers] == ["2611.00000", "2611.00001", "2611.00002"]
    assert [r.query["start"] for r in server.asked("/api/query")] == ["0", "2"]


def test_one_source_down_does_not_stop_the_others(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    server.script("/api/daily_papers", Reply(503, b"down"))
    server.script("/rss/cs.LG", Reply(200, RSS_SAMPLE))
    tuned = source_settings.model_copy(
        update={"ingest_sources": ["hf", "rss"], "arxiv_categories": ["cs.LG"]}
    )
    hf, feed = pipeline.ingest_configured(factory, tuned, fetcher, clock)
    assert hf.failed and not feed.failed and feed.new == 2
    assert [r.source for r in runs(factory)] == ["hf", "rss"]


def test_no_new_papers_on_a_weekday_warns_the_operator(
    factory: Factory, source_settings: Settings, fetcher: Fetcher, server: Server, clock: FakeClock
) -> None:
    friday = clock.now.replace(hour=22)  # 2026-11-27 is a Friday
    server.script("/rss/cs.LG", Reply(200, handmade.RSS_EMPTY))
    pipeline.ingest_rss(factory, source_settings, fetcher, clock, categories=["cs.LG"])
    assert pipeline.check_new_papers(factory, source_settings, friday)
    assert pipeline.check_new_papers(factory, source_settings, friday)  # warned once a day
    with factory() as session:
        (alert,) = session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.alert))
        assert alert.to_address == "ops@paperpost.example"
        assert "No new papers on 2026-11-27" in alert.payload["subject"]
        assert any("rss cs.LG: fetched 0" in line for line in alert.payload["paragraphs"])
    saturday = friday + dt.timedelta(days=1)
    assert not pipeline.check_new_papers(factory, source_settings, saturday)


def test_new_papers_mean_no_warning(
    factory: Factory, source_settings: Settings, clock: FakeClock
) -> None:
    pipeline.ingest_parsed(factory, "file", "seed", _one("2611.00001"), clock.now)
    assert not pipeline.check_new_papers(factory, source_settings, clock.now.replace(hour=22))


def _one(arxiv_id: str, version: int = 1) -> pipeline.ingest.ParseResult:
    from service.ingest.model import ParseResult, RawPaper

    return ParseResult([RawPaper(arxiv_id, "A paper", "file", version=version)])
