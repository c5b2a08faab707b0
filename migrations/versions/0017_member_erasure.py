"""member erasure: when a member's personal data was erased (`/relais forget-me`, `relais erase-member`);
the row stays as an anonymous placeholder so that their shares still count in the totals

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("member", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # In place (SQLite's ALTER TABLE … DROP COLUMN, 3.35+), not by a batch's copy of the table: dropping
    # the member table, with foreign keys on, would delete every row that refers to it.
    op.drop_column("member", "erased_at")
