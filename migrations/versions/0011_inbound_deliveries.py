"""inbound deliveries: activities a platform delivered that a web process already handled (redeliveries)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_delivery",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("platform", "key", name=op.f("pk_inbound_delivery")),
    )
    with op.batch_alter_table("inbound_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_delivery_claimed_at"), ["claimed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_delivery_claimed_at"))
    op.drop_table("inbound_delivery")
