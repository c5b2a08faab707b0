"""slack installations: Slack OAuth v2 installations (bot tokens encrypted) and the install flow's states;
a workspace's Enterprise Grid organisation and when the app was uninstalled from it

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "slack_installation",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=255), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=255), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=False),
        sa.Column("bot_user_id", sa.String(length=32), nullable=False),
        sa.Column("bot_scopes", sa.Text(), nullable=False),
        sa.Column("bot_token_encrypted", sa.Text(), nullable=False),
        sa.Column("bot_refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("installer_user_id", sa.String(length=32), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_installation")),
        sa.UniqueConstraint("key", name=op.f("uq_slack_installation_key")),
    )
    with op.batch_alter_table("slack_installation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_installation_enterprise_id"), ["enterprise_id"])
        batch_op.create_index(batch_op.f("ix_slack_installation_team_id"), ["team_id"])
    op.create_table(
        "slack_oauth_state",
        sa.Column("id", ID, nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_oauth_state")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_slack_oauth_state_state_hash")),
    )
    with op.batch_alter_table("slack_oauth_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_oauth_state_expires_at"), ["expires_at"])
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enterprise_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # In place, not by a batch's copy of the table: dropping the workspace table, with foreign keys on,
    # would delete every row that refers to it (as in 0017 and 0023).
    op.drop_column("workspace", "uninstalled_at")
    op.drop_column("workspace", "enterprise_id")
    op.drop_table("slack_oauth_state")
    op.drop_table("slack_installation")
