"""``paperpost papers ...``: what is stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.markup import escape

from service.cli.common import App, console, fail, print_json, table
from service.ingest.ids import InvalidArxivId, canonical_arxiv_id
from service.store import papers as store

app = typer.Typer(help="Stored papers.", no_args_is_help=True)

DATETIME = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


@app.command("list")
def list_papers(
    since: dt.datetime | None = typer.Option(
        None, formats=DATETIME, help="Only papers ingested since then (UTC)."
    ),
    source: str | None = typer.Option(
        None, help="Only papers seen by this source (hf, arxiv, rss, file)."
    ),
    limit: int = typer.Option(50, min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List stored papers, newest first."""
    when = since.replace(tzinfo=since.tzinfo or dt.UTC) if since else None
    with App().session() as session:
        papers = store.list_papers(session, since=when, source=source, limit=limit)
    if as_json:
        print_json(papers)
        return
    table(
        f"{len(papers)} papers",
        ["arXiv id", "title", "categories", "upvotes", "sources", "ingested (UTC)"],
        [(p["arxiv_id"], escape(p["title"][:70]), " ".join(p["categories"][:3]), p["upvotes"],
          ",".join(p["sources"]), f"{p['ingested_at']:%Y-%m-%d %H:%M}") for p in papers],
    )  # fmt: skip


@app.command("show")
def show(
    arxiv_id: str = typer.Argument(..., help="2401.01234, arXiv:2401.01234v2, an arXiv URL..."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one paper by arXiv id."""
    try:
        key = canonical_arxiv_id(arxiv_id)
    except InvalidArxivId as exc:
        fail(str(exc))
    with App().session() as session:
        paper = store.find_paper(session, key)
    if paper is None:
        fail(f"no paper {key}")
    if as_json:
        print_json(paper)
        return
    _print_paper(paper)


def _print_paper(p: dict[str, Any]) -> None:
    authors = ", ".join(
        a["name"] + (f" ({'; '.join(a['affiliations'])})" if a["affiliations"] else "")
        for a in p["authors"]
    )
    fields = [
        ("arXiv", f"{p['arxiv_id']}" + (f"v{p['version']}" if p["version"] else "")),
        ("authors", authors),
        ("categories", " ".join(p["categories"])),
        ("published", p["published_at"]),
        ("links", " ".join(u for u in (p["abs_url"], p["pdf_url"], p["hf_url"],
                                       p["code_url"], p["project_url"]) if u)),
        ("upvotes", f"{_n(p['upvotes'], 'upvote')}, {_n(p['num_comments'], 'comment')}"
         + (f", {_n(p['github_stars'], 'GitHub star')}" if p["github_stars"] else "")),
        ("comment", p["comment"]), ("journal", p["journal_ref"]), ("doi", p["doi"]),
        ("organization", p["organization"]), ("sources", ", ".join(p["sources"])),
        ("ingested", p["ingested_at"]), ("enriched", p["enriched_at"] or
                                         f"not yet ({_n(p['enrich_attempts'], 'attempt')})"),
    ]  # fmt: skip
    console.print(f"[bold]{escape(p['title'])}[/]", highlight=False)
    for name, value in fields:
        if value not in (None, ""):
            console.print(f"[dim]{name:>12}[/] {escape(str(value))}", highlight=False)
    console.print()
    console.print(p["summary"], highlight=False, markup=False)
    if p["ai_summary"]:
        console.print(f"\n[dim]AI summary:[/] {escape(p['ai_summary'])}", highlight=False)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
