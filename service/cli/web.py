"""``paperpost web``: the subscribe, confirm, preferences and unsubscribe pages and the admin API,
served by uvicorn."""

from __future__ import annotations

import typer

from service.cli.common import App, console


def web(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    dev_inbox: bool | None = typer.Option(
        None, "--dev-inbox/--no-dev-inbox", help="Show /dev/inbox (default: PAPERPOST_DEV_INBOX)."
    ),
) -> None:
    """Run the web app: public pages, one-click unsubscribe, the admin API under /api/."""
    import uvicorn

    from service.web.app import create_app

    ctx = App()
    settings = ctx.settings
    if dev_inbox is not None:
        settings = settings.model_copy(update={"dev_inbox": dev_inbox})
    for note in settings.development_warnings():
        console.print(f"[yellow]development mode:[/] {note}", highlight=False)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    console.print(f"paperpost web on {url}/  (admin API docs: {url}/docs)", highlight=False)
    if settings.dev_inbox:
        console.print(f"development inbox: {url}/dev/inbox", highlight=False)
    uvicorn.run(
        create_app(settings, ctx.factory),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        log_level="info",
    )
