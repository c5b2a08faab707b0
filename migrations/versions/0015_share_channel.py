"""share channel: the channel whose post card the member clicked to share (NULL: a reminder or a
personal link)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Shares from before are left NULL: where they came from was never recorded.
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.drop_column("channel")
