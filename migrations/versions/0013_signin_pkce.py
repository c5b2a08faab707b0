"""signin pkce: a sign-in under way keeps its PKCE code verifier (RFC 7636) server side

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Sign-ins under way last ten minutes and had no verifier: whoever is in the middle of one signs in
    # again. The server default only lets SQLite add a NOT NULL column; every new row sets its own.
    op.execute("DELETE FROM signin_attempt")
    op.add_column(
        "signin_attempt",
        sa.Column("code_verifier", sa.String(length=128), nullable=False, server_default=""),
    )


def downgrade() -> None:
    with op.batch_alter_table("signin_attempt", schema=None) as batch_op:
        batch_op.drop_column("code_verifier")
