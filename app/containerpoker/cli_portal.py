"""``containerpoker user ...`` and ``containerpoker portal``: accounts and serving."""

from __future__ import annotations

import getpass
import os

import click
from rich.table import Table

from .cli import Context, cli, console, err_console, pass_ctx
from .errors import InvalidRequest


def _accounts(ctx: Context):
    from .accounts import Accounts
    from .store import Store

    return Accounts(Store(ctx.settings.database_url))


@cli.group()
def user() -> None:
    """Portal accounts: create (the first admin too), list, promote, delete."""


@user.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The user's e-mail address.")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@click.option(
    "--password-env",
    metavar="VAR",
    help="Read the password from this environment variable (else it is asked for).",
)
@pass_ctx
def user_create(
    ctx: Context, username: str, email: str, admin: bool, password_env: str | None
) -> None:
    """Create an account (`--admin` for the first admin)."""
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise InvalidRequest(f"The environment variable {password_env} is empty or not set.")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise InvalidRequest("The two passwords differ: nothing was created.")
    created = _accounts(ctx).create(username, email, password, admin=admin)
    ctx.emit(
        created.as_dict(),
        lambda: console.print(
            f"Created {'admin' if created.is_admin else 'user'} [bold]{created.username}[/]."
        ),
    )


@user.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """List the accounts."""
    users = _accounts(ctx).list()

    def human() -> None:
        table = Table("username", "e-mail", "role")
        for u in users:
            table.add_row(u.username, u.email, "admin" if u.is_admin else "user")
        console.print(table)

    ctx.emit([u.as_dict() for u in users], human)


@user.command("promote")
@click.argument("username")
@pass_ctx
def user_promote(ctx: Context, username: str) -> None:
    """Make an account an admin."""
    promoted, changed = _accounts(ctx).set_admin(username, True)
    ctx.emit(
        {"user": promoted.as_dict(), "changed": changed},
        lambda: console.print(
            f"{promoted.username} is {'now' if changed else 'already'} an admin."
        ),
    )


@user.command("delete")
@click.argument("username")
@pass_ctx
def user_delete(ctx: Context, username: str) -> None:
    """Delete an account and release its containers."""
    accounts = _accounts(ctx)
    found = accounts.get(username)
    released = ctx.pool().release_all(found.username)
    accounts.delete(found.username)
    ctx.emit(
        {"deleted": found.username, "released": [a.name for a in released]},
        lambda: console.print(f"Deleted {found.username}; released {len(released)} containers."),
    )


@cli.command("portal")
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
    from .portal.security import portal_url
    from .portal.server import serve

    settings = ctx.settings
    bind = bind or f"0.0.0.0:{settings.portal_port}"
    err_console.print(
        f"[bold green]The portal is at {portal_url(settings)}[/]  "
        f"(listening on {bind}; users' containers at http://{settings.public_host}:PORT/)"
    )
    serve(settings, bind=bind, threads=threads, dev=dev)
