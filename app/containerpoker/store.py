"""The store: what the platform believes, in SQL (SQLite by default, any URL works).

Docker stays the truth about containers; the store holds what Docker cannot:
who owns what, which containers are being warmed by whom, the pool sizes set
at run time and the event log.  Every state change is one short write
transaction, so two processes (CLI, portal, monitor) can share one database.

SQLite specifics: WAL journal, a busy timeout, ``BEGIN IMMEDIATE`` for writes
(no lock upgrade deadlocks) and, inside one process, a lock in front of the
writer so that many threads queue in Python instead of in SQLite's sleeping
busy handler (which is what makes tail latency bad under contention).

The schema evolves by Alembic migrations (``containerpoker/migrations``), applied when a store
opens a database. A store opened for *plans* (Ansible's check mode, ``--dry-run``) writes
nothing anywhere: it works on an in-memory copy of the database, or on an empty one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from .errors import ConfigError

metadata = MetaData()

#: Pool container states (see DESIGN.md): warming → ready → assigned → released → (row deleted)
WARMING, READY, ASSIGNED, RELEASED, FAILED = "warming", "ready", "assigned", "released", "failed"
STATES = (WARMING, READY, ASSIGNED, RELEASED, FAILED)

pools = Table(
    "pools",
    metadata,
    Column("runtime", String(32), primary_key=True),
    # NULL: use the configured warm size; set by `pool resize` / `pool add`.
    Column("warm_override", Integer, nullable=True),
    # Bumped by every write that must serialise per runtime (row lock on PostgreSQL).
    Column("seq", Integer, nullable=False, default=0),
)

pool_containers = Table(
    "pool_containers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("runtime", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    # The node it runs on (the single host's is "local"); a host port is unique per node.
    Column("node", String(120), nullable=False, server_default="local"),
    Column("host_port", Integer, nullable=False),
    Column("volume", String(80), nullable=False),
    Column("docker_id", String(80), nullable=True),
    Column("owner", String(120), nullable=True),
    # Who is warming it (for telling live work from a crashed process).
    Column("worker_host", String(120), nullable=True),
    Column("worker_pid", Integer, nullable=True),
    Column("replacements", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("claimed_at", Float, nullable=True),
    # 1 while the owner has stopped it on purpose: recovery leaves it alone.
    Column("stopped", Integer, nullable=False, default=0, server_default="0"),
    # The two clocks of an assignment (see config.RuntimeConfig): its lifetime ends at
    # expires_at (NULL: never), and it is idle idle_timeout after last_active_at.
    Column("expires_at", Float, nullable=True),
    Column("last_active_at", Float, nullable=True),
    Column("renewals", Integer, nullable=False, default=0, server_default="0"),
    # How many TCP connections the container had accepted when the expiry sweep last looked.
    Column("connections", BigInteger, nullable=True),
    UniqueConstraint("node", "host_port", name="uq_pool_containers_node_port"),
    Index("ix_pool_containers_runtime_state", "runtime", "state"),
    # One container per (owner, runtime): the second claim gets the first's container.
    Index(
        "ux_pool_containers_owner_runtime",
        "owner",
        "runtime",
        unique=True,
        sqlite_where=text("owner IS NOT NULL"),
        postgresql_where=text("owner IS NOT NULL"),
    ),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("runtime", String(32), nullable=True),
    Column("container", String(80), nullable=True),
    Column("owner", String(120), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_events_ts", "ts"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    # Ids never reused, so a token naming a deleted user's id can't match a new user.
    sqlite_autoincrement=True,
)

# Logged-out tokens, until they would have expired anyway.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False),
)


IN_MAX = 64  # the largest IN list of a prepared claim statement


def padded(count: int) -> int:
    """The next power of two (at most ``IN_MAX``): IN lists come in 7 sizes only."""
    size = 1
    while size < count:
        size *= 2
    return min(size, IN_MAX)


class Prepared:
    """A Core statement compiled once for the store's dialect, run on a raw DBAPI cursor.

    The claim hot path runs a handful of tiny statements; SQLAlchemy's per-call
    statement building costs several times what SQLite itself needs, so these
    are compiled once and executed directly (still any dialect: the compiled
    SQL and parameter style are the driver's own).
    """

    def __init__(self, statement, dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.order = list(compiled.positiontup or [])
        # Values written into the statement (a None among them); the others come per call.
        self.fixed = {
            name: value
            for name, value in compiled.params.items()
            if name in compiled.binds and not compiled.binds[name].required
        }

    def execute(self, cursor, **params):
        values = {**self.fixed, **params}
        if self.positional:
            cursor.execute(self.sql, [values[name] for name in self.order])
        else:
            cursor.execute(self.sql, values)
        return cursor

    def execute_many(self, cursor, rows: list[dict]) -> None:
        values = [{**self.fixed, **params} for params in rows]
        if self.positional:
            cursor.executemany(self.sql, [[v[name] for name in self.order] for v in values])
        else:
            cursor.executemany(self.sql, values)

    @staticmethod
    def rows(cursor) -> list[dict]:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class Store:
    """A SQLAlchemy engine plus the few transaction helpers the platform needs.

    ``migrate`` (the default) brings the database's schema up to date first. ``Store.for_plans``
    opens a private in-memory copy instead, for computing what an operation would do.
    """

    def __init__(self, url: str, *, migrate: bool = True, _memory_copy_of: str | None = None):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        path = _sqlite_path(url)
        if path is not None and _memory_copy_of is None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot create the data directory {path.parent}: {exc.strerror}. "
                    "Set CONTAINERPOKER_DATA_DIR to a writable directory."
                ) from None
        try:
            kwargs: dict = {"pool_pre_ping": not self.is_sqlite}
            if _memory_copy_of is not None:
                source = _memory_copy_of
                kwargs.update(poolclass=StaticPool, creator=lambda: _copy_into_memory(source))
                url = "sqlite://"
            elif self.is_sqlite:
                kwargs.update(
                    connect_args={"timeout": 30, "check_same_thread": False},
                    pool_size=16,
                    max_overflow=48,
                )
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(
                f"CONTAINERPOKER_DATABASE_URL={url!r} cannot be used: {exc}."
            ) from None
        self._write_lock = threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        self._raw_lock = threading.Lock()
        self._raw = None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        if migrate:
            try:
                self.migrate()
            except OperationalError as exc:
                raise ConfigError(
                    f"The database at {self.url} cannot be opened: {exc.orig}. "
                    "Check CONTAINERPOKER_DATABASE_URL and that its directory is writable."
                ) from None

    @classmethod
    def for_plans(cls, url: str) -> Store:
        """A store that writes nothing anywhere: an in-memory copy of the database (SQLite),
        or an empty one when there is none yet. Plans computed on it are the real ones."""
        path = _sqlite_path(url)
        if path is None and url.startswith("sqlite"):
            return cls("sqlite://", _memory_copy_of="")
        if path is not None:
            return cls(url, _memory_copy_of=str(path) if path.exists() else "")
        store = cls(url, migrate=False)
        if store.revision() != store.head_revision():
            raise ConfigError(
                f"The database at {url} is not at the current schema: run "
                "`containerpoker db upgrade` first, then plan again."
            )
        return store

    # -- schema --------------------------------------------------------------------

    def _alembic(self):
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", "containerpoker:migrations")
        return config

    def head_revision(self) -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def revision(self) -> str | None:
        """The schema revision of the database (None: none yet)."""
        from alembic.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def migrate(self, target: str = "head") -> tuple[str | None, str | None]:
        """Apply the migrations up to ``target`` in one write transaction; (before, after)."""
        from alembic import command
        from alembic.migration import MigrationContext

        config = self._alembic()
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(cp_write=True)
            with conn.begin():
                if conn.dialect.name == "postgresql":  # one migrator at a time
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(472061)")
                before = MigrationContext.configure(conn).get_current_revision()
                if before != self.head_revision() or target != "head":
                    config.attributes["connection"] = conn
                    command.upgrade(config, target)
                after = MigrationContext.configure(conn).get_current_revision()
        return before, after

    # -- transactions ----------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(cp_write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def raw_write(self) -> Iterator:
        """A raw DBAPI cursor in one write transaction, on a connection kept for it.

        For the claim hot path (see :class:`Prepared`): no pool checkout, no
        SQLAlchemy transaction machinery, just BEGIN, the statements, COMMIT.
        """
        with self._write_lock, self._raw_lock:
            if self._raw is None:
                self._raw = self.engine.raw_connection()
            cursor = self._raw.cursor()
            try:
                if self.is_sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                self._raw.commit()
            except BaseException:
                self._raw.rollback()
                raise
            finally:
                cursor.close()

    @contextlib.contextmanager
    def raw_read(self) -> Iterator:
        """A raw DBAPI cursor for a read on the hot path (see :class:`Prepared`)."""
        raw = self.engine.raw_connection()
        cursor = raw.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            raw.rollback()  # ends the read transaction a driver may have begun
            raw.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction; sees a consistent snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- the event log ------------------------------------------------------------

    def add_event(
        self,
        conn: Connection,
        kind: str,
        *,
        runtime: str | None = None,
        container: str | None = None,
        owner: str | None = None,
        detail: str | None = None,
    ) -> None:
        conn.execute(
            insert(events).values(
                ts=time.time(),
                kind=kind,
                runtime=runtime,
                container=container,
                owner=owner,
                detail=detail,
            )
        )

    def record(self, kind: str, **fields: str | None) -> None:
        """One event in its own transaction."""
        with self.write() as conn:
            self.add_event(conn, kind, **fields)

    def count_events(self, kind: str) -> dict[str, int]:
        """How many events of ``kind`` there were, by runtime."""
        with self.read() as conn:
            found = conn.execute(
                select(events.c.runtime, func.count())
                .where(events.c.kind == kind)
                .group_by(events.c.runtime)
            ).all()
        return {runtime or "": count for runtime, count in found}

    def recent_events(self, limit: int = 50) -> list[dict]:
        with self.read() as conn:
            rows = conn.execute(select(events).order_by(events.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def dispose(self) -> None:
        with self._raw_lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None
        self.engine.dispose()


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, None for anything else (or an in-memory database)."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///"))


def _copy_into_memory(path: str):
    """A private in-memory SQLite database holding what ``path`` holds (nothing when empty)."""
    import sqlite3

    memory = sqlite3.connect(":memory:", check_same_thread=False)
    if path:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            source.backup(memory)
        finally:
            source.close()
    return memory


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("cp_write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
