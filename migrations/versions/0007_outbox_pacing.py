"""Outbox pacing shared by every drainer: the next free slot per destination.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_pacing",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("next_slot_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "destination", name=op.f("pk_outbox_pacing")),
    )


def downgrade() -> None:
    op.drop_table("outbox_pacing")
