"""``containerpoker user ...``: portal accounts."""

from __future__ import annotations

import getpass
import os

import click
from rich.table import Table

from ..errors import InvalidRequest
from .common import Context, console, dry_run_option, pass_ctx


@click.group()
def user() -> None:
    """Portal accounts: create (the first admin too), list, promote, password, delete."""


def read_password(password_env: str | None) -> str:
    """From an environment variable, else asked twice at the terminal (never an argument)."""
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise InvalidRequest(f"The environment variable {password_env} is empty or not set.")
        return password
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Again: "):
        raise InvalidRequest("The two passwords differ: nothing was changed.")
    return password


password_env_option = click.option(
    "--password-env",
    metavar="VAR",
    help="Read the password from this environment variable (else it is asked for).",
)


@user.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The user's e-mail address.")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@password_env_option
@pass_ctx
def user_create(
    ctx: Context, username: str, email: str, admin: bool, password_env: str | None
) -> None:
    """Create an account (`--admin` for the first admin)."""
    password = read_password(password_env)
    created = ctx.platform().accounts.create(username, email, password, admin=admin)
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
    users = ctx.platform().accounts.list()

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
    promoted, changed = ctx.platform().accounts.set_admin(username, True)
    ctx.emit(
        {"user": promoted.as_dict(), "changed": changed},
        lambda: console.print(
            f"{promoted.username} is {'now' if changed else 'already'} an admin."
        ),
    )


@user.command("password")
@click.argument("username")
@password_env_option
@pass_ctx
def user_password(ctx: Context, username: str, password_env: str | None) -> None:
    """Set an account's password."""
    changed = ctx.platform().set_password(username, read_password(password_env))
    ctx.emit(
        {"user": username, "changed": changed},
        lambda: console.print(
            f"Set the password of {username}." if changed else "That is the password already."
        ),
    )


@user.command("delete")
@click.argument("username")
@dry_run_option
@pass_ctx
def user_delete(ctx: Context, username: str, dry_run: bool) -> None:
    """Delete an account and release its containers (never the last admin)."""
    plan = ctx.platform(plans_only=dry_run).delete_user(username, apply=not dry_run)
    released = plan.keys("released")
    if dry_run:
        ctx.emit_plan(plan, "Nothing to do.")
        return
    ctx.emit(
        {"deleted": plan.keys("deleted")[0], "released": released} | plan.as_dict(),
        lambda: console.print(
            f"Deleted {plan.keys('deleted')[0]}; released {len(released)} containers."
        ),
    )
