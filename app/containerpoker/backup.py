"""Backups of the platform's database, taken while it serves, and restoring one.

- SQLite: SQLite's online backup API copies the database page by page under one read
  transaction, so the copy is a consistent snapshot even while the portal writes. The copy is
  a self-contained file (rollback journal, not WAL) and is checked before it is kept.
- PostgreSQL: ``pg_dump --format=custom`` (one repeatable-read snapshot), restored with
  ``pg_restore --clean --single-transaction``. The password, if the URL has one, goes to the
  tools in ``PGPASSWORD``, never on a command line.

A backup is written next to its destination first and renamed when complete: a backup that
failed half-way never replaces a good one. What a restore must not race (the portal, the
monitor) is the caller's to stop; the platform reconciles with Docker afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import make_url

from .errors import ConfigError, InvalidRequest
from .store import READY, WARMING, Store, pool_containers

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


def backup_database(url: str, dest: Path) -> dict:
    """Copy the database at ``url`` into the file ``dest``; what was written."""
    dest = Path(dest)
    if dest.is_dir():
        raise InvalidRequest(f"{dest} is a folder: name the backup file, e.g. {dest}/cp.backup.")
    if not dest.parent.is_dir():
        raise InvalidRequest(f"The folder {dest.parent} does not exist: create it first.")
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if _is_sqlite(url):
            kind = "sqlite"
            _sqlite_backup(_sqlite_file(url), partial)
        else:
            kind = "postgresql"
            _run_pg("pg_dump", url, ["--format=custom", "--no-owner", f"--file={partial}"])
        partial.chmod(0o600)  # it holds password hashes
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return {"file": str(dest), "kind": kind, "bytes": dest.stat().st_size}


def check_backup(url: str, source: Path) -> str:
    """The backup's kind, once it is known to fit the database at ``url``
    (:class:`InvalidRequest` otherwise: not a backup, damaged, or of the other kind)."""
    source = Path(source)
    kind = backup_kind(source)
    wanted = "sqlite" if _is_sqlite(url) else "postgresql"
    if kind != wanted:
        raise InvalidRequest(
            f"{source} is a {kind} backup, but the platform's database is {wanted} "
            f"({_shown(url)}): restore it into a database of its kind."
        )
    if kind == "sqlite":
        _check_sqlite(source)
    return kind


def restore_database(url: str, source: Path) -> dict:
    """Replace the database at ``url`` with the backup in ``source`` (checked first)."""
    source = Path(source)
    kind = check_backup(url, source)
    if kind == "sqlite":
        target = _sqlite_file(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        with contextlib.closing(reader) as src, contextlib.closing(sqlite3.connect(target)) as dst:
            dst.execute("PRAGMA busy_timeout=30000")
            src.backup(dst)  # under the target's write lock
    else:
        _run_pg(
            "pg_restore",
            url,
            ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"],
            tail=[str(source)],
        )
    return {"file": str(source), "kind": kind}


def forget_warm_containers(store: Store) -> int:
    """Forget the restored store's warm containers (a reconcile then removes them and warms
    fresh ones): one may have been handed to a user after the backup was taken, and must not
    be handed to another with that user's files. Assigned containers are kept."""
    with store.write() as conn:
        return conn.execute(
            delete(pool_containers).where(pool_containers.c.state.in_((READY, WARMING)))
        ).rowcount


def backup_kind(path: Path) -> str:
    """``sqlite`` or ``postgresql``, from the file's first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        raise InvalidRequest(f"There is no backup file {path}.") from None
    except IsADirectoryError:
        raise InvalidRequest(f"{path} is a folder: name the backup file.") from None
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise InvalidRequest(
        f"{path} is not a containerpoker backup (neither a SQLite database nor a pg_dump "
        "archive): name a file `containerpoker db backup` wrote."
    )


# -- SQLite ----------------------------------------------------------------------------------


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidRequest("An in-memory database has nothing to back up or restore.")
    return Path(database)


def _sqlite_backup(path: Path, dest: Path) -> None:
    if not path.exists():
        raise InvalidRequest(
            f"There is no database at {path} yet: nothing to back up (check "
            "CONTAINERPOKER_DATA_DIR)."
        )
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as src:
        src.execute("PRAGMA busy_timeout=30000")
        with contextlib.closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)  # every page in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    _check_sqlite(dest)


def _check_sqlite(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise InvalidRequest(f"{path} is not a usable SQLite database: {exc}.") from None
    if verdict != "ok":
        raise InvalidRequest(f"{path} is damaged (SQLite's integrity check: {verdict}).")
    if not {"users", "pool_containers"} <= tables:
        raise InvalidRequest(f"{path} is a SQLite database, but not containerpoker's.")


# -- PostgreSQL --------------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    """The tool, from PATH (Debian's wrapper picks the newest version) or PostgreSQL's folder."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    if versions:
        return str(versions[-1])
    raise ConfigError(
        f"{name} is missing: install PostgreSQL's client tools "
        "(`apt-get install postgresql-client`), then retry."
    )


def _run_pg(tool: str, url: str, args: list[str], tail: list[str] | None = None) -> None:
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    command = [_pg_tool(tool), *args, f"--dbname={conninfo}", *(tail or [])]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{tool} took more than an hour: nothing was kept.") from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"{tool} failed on {_shown(url)}: {reason[-1] if reason else 'no message'}. "
            "Check the database URL and that the server is reachable."
        )


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
