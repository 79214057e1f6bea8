"""``containerpoker portal`` and ``containerpoker stop``: serving the platform, and stopping it."""

from __future__ import annotations

import click

from .common import Context, console, err_console, pass_ctx


@click.command("portal")
@click.option("--dev", is_flag=True, help="Flask's auto-reloading server, for development.")
@click.option("--bind", help="host:port to listen on (default: all addresses, the portal port).")
@click.option(
    "--threads",
    type=click.IntRange(8, 512),
    default=64,
    show_default=True,
    help="Worker threads (each open live stream holds one).",
)
@pass_ctx
def portal(ctx: Context, dev: bool, bind: str | None, threads: int) -> None:
    """Serve the portal (gunicorn; `--dev` for auto-reload) and print its URL."""
    from ..portal.security import portal_url
    from ..portal.server import serve

    settings = ctx.settings
    bind = bind or f"0.0.0.0:{settings.portal_port}"
    err_console.print(
        f"[bold green]The portal is at {portal_url(settings)}[/]  "
        f"(listening on {bind}; users' containers at http://{settings.public_host}:PORT/)"
    )
    serve(settings, bind=bind, threads=threads, dev=dev)


@click.command("stop")
@pass_ctx
def stop(ctx: Context) -> None:
    """Stop the portal (if `containerpoker portal` runs) and remove every pool container."""
    from ..portal.server import stop_portal

    portal_stopped = stop_portal(ctx.settings)
    count = ctx.platform().pool.remove_all()
    ctx.emit(
        {"removed": count, "portal_stopped": portal_stopped},
        lambda: console.print(
            ("Stopped the portal. " if portal_stopped else "") + f"Removed {count} pool containers."
        ),
    )
