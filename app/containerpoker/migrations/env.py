"""Alembic's entry point: migrate the connection the store hands over (``Store.migrate``)."""

from __future__ import annotations

from alembic import context

from containerpoker.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit(
        "Run migrations with `containerpoker db upgrade` (it opens the configured database)."
    )
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
