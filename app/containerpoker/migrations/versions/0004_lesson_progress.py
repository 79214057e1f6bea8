"""The classroom's progress: lesson runs, and each learner's way through each challenge.

``lesson_runs``: one row per run of a lesson from the portal (who, which, when, whether it
passed). ``challenge_progress``: per learner and lesson, when the challenge was opened, last
checked and passed, how many checks pass and the first that does not (where they are stuck).
``challenge_checks``: when each check first passed.

Revision: 0004_lesson_progress (after 0003)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lesson_progress"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lesson_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("lesson", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("ok", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_lesson_runs_username", "lesson_runs", ["username", "lesson"])
    op.create_table(
        "challenge_progress",
        sa.Column("username", sa.String(32), primary_key=True),
        sa.Column("lesson", sa.Integer, primary_key=True),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("last_checked_at", sa.Float, nullable=True),
        sa.Column("passed_at", sa.Float, nullable=True),
        sa.Column("checks_passed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("stuck_on", sa.Integer, nullable=True),
    )
    op.create_table(
        "challenge_checks",
        sa.Column("username", sa.String(32), primary_key=True),
        sa.Column("lesson", sa.Integer, primary_key=True),
        sa.Column("check_index", sa.Integer, primary_key=True),
        sa.Column("passed_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("challenge_checks")
    op.drop_table("challenge_progress")
    op.drop_index("ix_lesson_runs_username", table_name="lesson_runs")
    op.drop_table("lesson_runs")
