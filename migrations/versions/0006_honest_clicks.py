"""Honest clicks: a click is unique per link × visitor × UTC hour; robots and repeats become counters.

Rows written before this revision keep `hour` empty (they never conflict) and their `counted` flag.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("click", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hour", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_click_link_id_visitor_hour"), ["link_id", "visitor", "hour"]
        )

    op.create_table(
        "visit_tally",
        sa.Column("id", ID, nullable=False),
        sa.Column("link_id", ID, nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("robots", sa.Integer(), server_default="0", nullable=False),
        sa.Column("repeats", sa.Integer(), server_default="0", nullable=False),
        sa.Column("withdrawn", sa.Integer(), server_default="0", nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["tracked_link.id"],
            name=op.f("fk_visit_tally_link_id_tracked_link"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_visit_tally_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_tally")),
        sa.UniqueConstraint("link_id", "hour", name=op.f("uq_visit_tally_link_id_hour")),
    )
    with op.batch_alter_table("visit_tally", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_tally_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visit_tally", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_tally_workspace_id"))
    op.drop_table("visit_tally")

    with op.batch_alter_table("click", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_click_link_id_visitor_hour"), type_="unique")
        batch_op.drop_column("hour")
