"""outbox lanes: an index on each workspace's due messages, which each workspace's drain lane claims from
(`bot.services.outbox.drain`: one workspace's big round never holds another's messages behind it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 00:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_workspace_id_state_next_attempt_at"),
            ["workspace_id", "state", "next_attempt_at"],
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_workspace_id_state_next_attempt_at"))
