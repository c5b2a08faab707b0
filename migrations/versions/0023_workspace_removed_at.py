"""workspace removed_at: when a workspace's data was last removed (`bot.services.workspace_erasure`), so
that the retention job no longer looks at a workspace it removed already (it is due again only when
uninstalled again after a reinstall)

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 03:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("workspace", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # In place (SQLite's ALTER TABLE … DROP COLUMN, 3.35+), not by a batch's copy of the table: dropping
    # the workspace table, with foreign keys on, would delete every row that refers to it.
    op.drop_column("workspace", "removed_at")
