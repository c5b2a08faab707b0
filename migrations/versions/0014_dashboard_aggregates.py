"""dashboard aggregates: weekly shares, clicks, sharers and reach per post, network, member and channel,
and the indexes that find what changed

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspace.id"],
        name=op.f(f"fk_{table}_workspace_id_workspace"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "dashboard_week",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("share_clicks", sa.Integer(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        _workspace_fk("dashboard_week"),
        sa.PrimaryKeyConstraint("workspace_id", "week", "post_id", "network", name=op.f("pk_dashboard_week")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dashboard_member_week",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        _workspace_fk("dashboard_member_week"),
        sa.PrimaryKeyConstraint(
            "workspace_id", "channel", "week", "member_id", "network", name=op.f("pk_dashboard_member_week")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("dashboard_member_week", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_member_week_workspace_id_channel_member_id"),
            ["workspace_id", "channel", "member_id"],
        )
        batch_op.create_index(
            batch_op.f("ix_dashboard_member_week_workspace_id_week"), ["workspace_id", "week"]
        )
    op.create_table(
        "dashboard_sharers_week",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("sharers", sa.Integer(), nullable=False),
        _workspace_fk("dashboard_sharers_week"),
        sa.PrimaryKeyConstraint(
            "workspace_id", "channel", "network", "week", name=op.f("pk_dashboard_sharers_week")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dashboard_reach_week",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        _workspace_fk("dashboard_reach_week"),
        sa.PrimaryKeyConstraint("workspace_id", "week", "post_id", name=op.f("pk_dashboard_reach_week")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dashboard_refresh",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        _workspace_fk("dashboard_refresh"),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_dashboard_refresh")),
    )
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_workspace_id_updated_at"), ["workspace_id", "updated_at"])
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_workspace_id_kind_sent_at"), ["workspace_id", "kind", "sent_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_workspace_id_kind_sent_at"))
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_workspace_id_updated_at"))
    op.drop_table("dashboard_refresh")
    op.drop_table("dashboard_reach_week")
    op.drop_table("dashboard_sharers_week")
    op.drop_table("dashboard_member_week")
    op.drop_table("dashboard_week")
