"""Containers expire: a lifetime clock, an idle clock, renewals, and the traffic last seen.

``expires_at``: when the claim's lifetime ends (claimed or renewed + lifetime; NULL: never).
``last_active_at``: the owner's last activity (traffic reaching the container, an upload, a
portal action); idle_timeout after it the container is released. ``renewals``: how often the
owner renewed. ``connections``: how many TCP connections the container had accepted when last
looked at, so the sweep can tell new visitors.

Revision: 0003 (after 0002)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_containers") as batch:
        batch.add_column(sa.Column("expires_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("last_active_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("renewals", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("connections", sa.BigInteger, nullable=True))
    # Containers assigned before this version: their clocks start now.
    op.execute(
        "UPDATE pool_containers SET last_active_at = updated_at "
        "WHERE owner IS NOT NULL AND last_active_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("pool_containers") as batch:
        for column in ("connections", "renewals", "last_active_at", "expires_at"):
            batch.drop_column(column)
