"""Scheduler: clock job runs (for `relais jobs list`) and the nudge back-off per member.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:16:46.358775
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clock_job",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_clock_job")),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nudges_unanswered", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_nudged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("last_nudged_at")
        batch_op.drop_column("nudges_unanswered")

    op.drop_table("clock_job")
