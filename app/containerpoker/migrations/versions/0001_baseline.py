"""Baseline: the schema of containerpoker 0.1 (pools, pool containers, events, users, tokens).

Databases made before migrations existed are at this revision already (made by ``create_all``);
the oldest of them lack ``pool_containers.stopped``, which is added here when missing.

Revision: 0001 (the first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "pools" not in have:
        op.create_table(
            "pools",
            sa.Column("runtime", sa.String(32), primary_key=True),
            sa.Column("warm_override", sa.Integer, nullable=True),
            sa.Column("seq", sa.Integer, nullable=False),
        )
    if "pool_containers" not in have:
        op.create_table(
            "pool_containers",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(80), nullable=False, unique=True),
            sa.Column("runtime", sa.String(32), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("host_port", sa.Integer, nullable=False, unique=True),
            sa.Column("volume", sa.String(80), nullable=False),
            sa.Column("docker_id", sa.String(80), nullable=True),
            sa.Column("owner", sa.String(120), nullable=True),
            sa.Column("worker_host", sa.String(120), nullable=True),
            sa.Column("worker_pid", sa.Integer, nullable=True),
            sa.Column("replacements", sa.Integer, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
            sa.Column("claimed_at", sa.Float, nullable=True),
            sa.Column("stopped", sa.Integer, nullable=False, server_default="0"),
        )
        op.create_index("ix_pool_containers_runtime_state", "pool_containers", ["runtime", "state"])
        op.create_index(
            "ux_pool_containers_owner_runtime",
            "pool_containers",
            ["owner", "runtime"],
            unique=True,
            sqlite_where=sa.text("owner IS NOT NULL"),
            postgresql_where=sa.text("owner IS NOT NULL"),
        )
    else:
        columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("pool_containers")}
        if "stopped" not in columns:
            op.add_column(
                "pool_containers",
                sa.Column("stopped", sa.Integer, nullable=False, server_default="0"),
            )
    if "events" not in have:
        op.create_table(
            "events",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("ts", sa.Float, nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("runtime", sa.String(32), nullable=True),
            sa.Column("container", sa.String(80), nullable=True),
            sa.Column("owner", sa.String(120), nullable=True),
            sa.Column("detail", sa.Text, nullable=True),
        )
        op.create_index("ix_events_ts", "events", ["ts"])
    if "users" not in have:
        op.create_table(
            "users",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("username", sa.String(32), nullable=False, unique=True),
            sa.Column("email", sa.String(254), nullable=False, unique=True),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("is_admin", sa.Integer, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sqlite_autoincrement=True,
        )
    if "revoked_tokens" not in have:
        op.create_table(
            "revoked_tokens",
            sa.Column("jti", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.Float, nullable=False),
        )


def downgrade() -> None:
    for table in ("revoked_tokens", "users", "events", "pool_containers", "pools"):
        op.drop_table(table)
