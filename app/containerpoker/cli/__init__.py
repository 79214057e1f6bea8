"""The ``containerpoker`` command: a thin front end over ``containerpoker.platform``.

The root group is assembled here from the command modules (``pool``, ``users``, ``lessons``,
``monitor``, ``serving``, ``system``, ``admin``); they import only ``common`` (``admin`` also
borrows ``pool``'s table), so nothing imports back.
"""

from __future__ import annotations

import sys

import click
from docker.errors import DockerException

from .. import __version__
from ..errors import ContainerPokerError, InvalidRequest, PoolExhausted
from .admin import admin
from .common import EXIT_ERROR, EXIT_EXHAUSTED, EXIT_USAGE, Context, err_console
from .lessons import lesson
from .monitor import monitor
from .nodes import node
from .pool import pool
from .serving import portal, stop
from .system import config, db, images
from .users import user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.version_option(__version__, prog_name="containerpoker")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, quiet: bool) -> None:
    """containerpoker: pre-warmed container pools and an orchestration classroom.

    Configuration comes from CONTAINERPOKER_* environment variables, a .env
    file, or the TOML file named by CONTAINERPOKER_CONFIG (see `config show`).
    """
    ctx.obj = Context(as_json, quiet)
    ctx.call_on_close(ctx.obj.close)


for command in (config, images, db, pool, node, user, lesson, monitor, portal, stop, admin):
    cli.add_command(command)


def main() -> None:
    """Entry point: one clear sentence on error, non-zero exit."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except PoolExhausted as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        sys.exit(EXIT_EXHAUSTED)
    except InvalidRequest as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        sys.exit(EXIT_USAGE)
    except ContainerPokerError as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        sys.exit(EXIT_ERROR)
    except DockerException as exc:  # from a lesson, which drives the docker SDK itself
        err_console.print(f"[red]Docker error:[/] {exc}. Check `docker info` and `make engine`.")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)
