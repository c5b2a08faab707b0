"""retention: the daily salts of visitors' keys, how far each workspace's old rows were deleted or folded
(RELAIS_RETENTION_DAYS), how many clicks a click row stands for, and the indexes that find old rows

The visitors' keys written so far came from a permanent secret of the install: those of the hours before
this one are cleared now (only the rows holding one are rewritten); the current hour's, and any that web processes of the previous version write
until they stop, are cleared by the retention job from the next day on (`cleared_before`).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _this_hour() -> datetime:
    """The start of the current UTC hour, as each database compares timestamps (SQLite: naive UTC)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return hour.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else hour


def upgrade() -> None:
    op.create_table(
        "visitor_salt",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_visitor_salt")),
    )
    op.create_table(
        "retention_horizon",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("deleted_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("folded_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_before", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_retention_horizon_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_retention_horizon")),
    )
    op.add_column("click", sa.Column("clicks", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_workspace_id_updated_at"), ["workspace_id", "updated_at"])
    with op.batch_alter_table("visit_tally", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_tally_workspace_id_hour"), ["workspace_id", "hour"])

    hour = sa.bindparam("hour", _this_hour(), type_=sa.DateTime(timezone=True))
    click = sa.table(
        "click", sa.column("visitor", sa.String()), sa.column("hour", sa.DateTime(timezone=True))
    )
    op.execute(
        click.update()
        .where(click.c.visitor.is_not(None), sa.or_(click.c.hour.is_(None), click.c.hour < hour))
        .values(visitor=None)
    )
    op.execute(
        sa.text(
            "INSERT INTO retention_horizon (workspace_id, cleared_before) SELECT id, :hour FROM workspace"
        ).bindparams(hour)
    )


def downgrade() -> None:
    # Without `click.clicks`, a folded weekly row would silently count one click: refuse instead.
    folded = op.get_bind().scalar(sa.text("SELECT COUNT(*) FROM click WHERE clicks <> 1"))
    if folded:
        raise RuntimeError(
            f"Cannot downgrade below revision 0019: {folded} click rows are weekly counts folded by "
            "RELAIS_RETENTION_DAYS (click.clicks <> 1), which the older schema would count as one click "
            "each. Restore a backup taken before the upgrade instead."
        )
    with op.batch_alter_table("visit_tally", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_tally_workspace_id_hour"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_workspace_id_updated_at"))
    with op.batch_alter_table("click", schema=None) as batch_op:
        batch_op.drop_column("clicks")
    op.drop_table("retention_horizon")
    op.drop_table("visitor_salt")
