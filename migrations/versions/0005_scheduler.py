"""Scheduler: clock job runs (for `relais jobs list`), the nudge back-off per member, outbox rounds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:33:40.115230
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

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round_key", sa.String(length=128), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_workspace_id_round_key_state"),
            ["workspace_id", "round_key", "state"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_workspace_id_round_key_state"))
        batch_op.drop_column("round_key")

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("last_nudged_at")
        batch_op.drop_column("nudges_unanswered")

    op.drop_table("clock_job")
