"""Social connections: OAuth attempts (personal connect links), and expiry warnings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:37:48.812925
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "network",
            sa.Enum("linkedin", "x", name="network", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=128), nullable=True),
        sa.Column("code_verifier_encrypted", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_oauth_attempt_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_oauth_attempt_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_attempt")),
        sa.UniqueConstraint("nonce", name=op.f("uq_oauth_attempt_nonce")),
        sa.UniqueConstraint("state", name=op.f("uq_oauth_attempt_state")),
    )
    with op.batch_alter_table("oauth_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_attempt_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_attempt_workspace_id"), ["workspace_id"], unique=False)

    with op.batch_alter_table("social_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("social_account", schema=None) as batch_op:
        batch_op.drop_column("expiry_warned_at")

    with op.batch_alter_table("oauth_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_attempt_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_attempt_member_id"))

    op.drop_table("oauth_attempt")
