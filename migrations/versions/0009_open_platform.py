"""workspace platform: an open string (the name of any installed chat platform adapter)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KNOWN = ("slack", "teams")


def _closed() -> sa.Enum:
    return sa.Enum(*KNOWN, name="platform", native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    # Platforms are plugins found by name (bot/platforms.py): the CHECK on the two known names goes.
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.alter_column(
            "platform", existing_type=_closed(), type_=sa.String(length=32), existing_nullable=False
        )


def downgrade() -> None:
    unknown = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM workspace WHERE platform NOT IN ('slack', 'teams')")
    )
    if unknown:
        raise RuntimeError(
            f"{unknown} workspace(s) are on a platform other than Slack or Teams: the previous schema "
            "cannot hold them; export and delete them first (relais export, then remove the rows)"
        )
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.alter_column(
            "platform", existing_type=sa.String(length=32), type_=_closed(), existing_nullable=False
        )
