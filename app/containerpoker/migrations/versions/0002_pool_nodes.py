"""Pool containers live on a node: a host port is unique per node, not across the platform.

Existing rows are on the single host's node, ``local``.

Revision: 0002 (after 0001)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Names for constraints that SQLite keeps unnamed, so batch mode can drop them.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _port_constraint() -> str:
    uniques = sa.inspect(op.get_bind()).get_unique_constraints("pool_containers")
    found = next(u for u in uniques if u["column_names"] == ["host_port"])
    return found["name"] or "uq_pool_containers_host_port"


def upgrade() -> None:
    old = _port_constraint()
    with op.batch_alter_table("pool_containers", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("node", sa.String(120), nullable=False, server_default="local"))
        batch.drop_constraint(old, type_="unique")
        batch.create_unique_constraint("uq_pool_containers_node_port", ["node", "host_port"])


def downgrade() -> None:
    with op.batch_alter_table("pool_containers", naming_convention=NAMING) as batch:
        batch.drop_constraint("uq_pool_containers_node_port", type_="unique")
        batch.create_unique_constraint("uq_pool_containers_host_port", ["host_port"])
        batch.drop_column("node")
