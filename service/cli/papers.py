"""``paperpost papers ...``: what is stored."""

from __future__ import annotations

import datetime as dt

import typer
from sqlalchemy import select

from service.cli.common import App, fail, print_json, table
from service.store.models import Paper

app = typer.Typer(help="Stored papers.", no_args_is_help=True)


def paper_json(p: Paper) -> dict[str, object]:
    return {
        "id": p.id, "arxiv_id": p.arxiv_id, "title": p.title, "summary": p.summary,
        "authors": p.authors, "categories": p.categories, "abs_url": p.abs_url,
        "pdf_url": p.pdf_url, "hf_url": p.hf_url, "code_url": p.code_url,
        "upvotes": p.upvotes, "num_comments": p.num_comments, "sources": p.sources,
        "published_at": p.published_at, "trending_date": p.trending_date,
        "ingested_at": p.ingested_at,
    }  # fmt: skip


@app.command("list")
def list_papers(
    since: dt.datetime | None = typer.Option(None, help="Only papers ingested since this date."),
    source: str | None = typer.Option(
        None, help="Only papers seen by this source (hf, arxiv, rss, file)."
    ),
    limit: int = typer.Option(50, min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List stored papers, newest first."""
    with App().session() as session:
        query = select(Paper).order_by(Paper.ingested_at.desc(), Paper.id.desc()).limit(limit)
        if since:
            query = query.where(Paper.ingested_at >= since.replace(tzinfo=since.tzinfo or dt.UTC))
        papers = [p for p in session.scalars(query) if source is None or source in p.sources]
        if as_json:
            print_json([paper_json(p) for p in papers])
            return
        table(
            f"{len(papers)} papers",
            ["arXiv id", "title", "upvotes", "sources"],
            [(p.arxiv_id, p.title[:70], p.upvotes, ",".join(p.sources)) for p in papers],
        )


@app.command("show")
def show(arxiv_id: str, as_json: bool = typer.Option(True, "--json/--no-json")) -> None:
    """Show one paper by arXiv id."""
    from service.ingest.ids import InvalidArxivId, canonical_arxiv_id

    try:
        key = canonical_arxiv_id(arxiv_id)
    except InvalidArxivId as exc:
        fail(str(exc))
    with App().session() as session:
        paper = session.scalar(select(Paper).where(Paper.arxiv_id == key))
        if paper is None:
            fail(f"no paper {key}")
        print_json(paper_json(paper))
