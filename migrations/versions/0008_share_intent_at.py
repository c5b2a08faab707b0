"""share intent_at: when a share first counted through the member's personal link

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("share", sa.Column("intent_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE share SET intent_at = created_at WHERE status = 'intent'")


def downgrade() -> None:
    op.drop_column("share", "intent_at")
