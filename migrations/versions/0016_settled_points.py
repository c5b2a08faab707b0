"""settled points: every member's points as of a moment (`/relais me` ranks without adding up a year of
everyone's rows), and an index on a tracked link's member (a member's own clicks)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Empty at first: the first look at a member's figures fills it from the rows.
    op.create_table(
        "settled_points",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_settled_points_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_settled_points_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "member_id", name=op.f("pk_settled_points")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("settled_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settled_points_workspace_id_points"), ["workspace_id", "points"])
    op.create_table(
        "points_refresh",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_points_refresh_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_points_refresh")),
    )
    with op.batch_alter_table("tracked_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracked_link_member_id"), ["member_id"])


def downgrade() -> None:
    with op.batch_alter_table("tracked_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracked_link_member_id"))
    op.drop_table("points_refresh")
    op.drop_table("settled_points")
