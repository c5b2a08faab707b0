"""sent files: the ids of the files Relais put in a member's private chat (`/relais mydata` on Slack), so
that erasing the member deletes them at the platform

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sent_file",
        sa.Column("id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_sent_file_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_sent_file_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_file")),
    )
    with op.batch_alter_table("sent_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_file_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sent_file_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sent_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_file_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_sent_file_member_id"))
    op.drop_table("sent_file")
