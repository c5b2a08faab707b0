"""anonymous shares: an erased member's shares and tracked links point at no member (`member_id` NULL),
so that the database keeps their counts without one history per erased person; the shares and links of
members erased before this revision are detached too, as are the posts they created and the suggestions
they decided, and their workspaces' dashboard aggregates are rebuilt from scratch at the next look

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 03:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ERASED = "SELECT id FROM member WHERE erased_at IS NOT NULL"
# On SQLite a batch rebuilds the table, and dropping the old `tracked_link` (foreign keys on) deletes the
# rows that reference it (ON DELETE CASCADE): those are copied aside and put back.
_REFERRING = ("click", "visit_tally")


def _member_id_nullable(table: str, nullable: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite" and table == "tracked_link"
    if sqlite:
        for referring in _REFERRING:
            op.execute(f"CREATE TEMP TABLE keep_{referring} AS SELECT * FROM {referring}")  # noqa: S608
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column("member_id", existing_type=_ID, nullable=nullable)
    if sqlite:
        for referring in _REFERRING:
            op.execute(f"DELETE FROM {referring}")  # noqa: S608
            op.execute(f"INSERT INTO {referring} SELECT * FROM keep_{referring}")  # noqa: S608
            op.execute(f"DROP TABLE keep_{referring}")


def upgrade() -> None:
    for table in ("share", "tracked_link"):
        _member_id_nullable(table, True)
        op.execute(f"UPDATE {table} SET member_id = NULL WHERE member_id IN ({_ERASED})")  # noqa: S608
    # The posts they queued and the suggestions they decided stay, by nobody (as an erasure leaves them).
    for table, column in (("post", "created_by_id"), ("suggestion", "decided_by_id")):
        op.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({_ERASED})")  # noqa: S608
    # The dashboard's aggregates of their workspaces still hold their weekly figures, and the shares
    # detached above unstamped: rebuilt from every row at the next look (no watermark: never built).
    op.execute(
        "UPDATE dashboard_refresh SET watermark = NULL WHERE workspace_id IN "
        "(SELECT workspace_id FROM member WHERE erased_at IS NOT NULL)"
    )


def downgrade() -> None:
    # The older schema needs a member on every share and link: which erased person each was is gone.
    for table in ("share", "tracked_link"):
        detached = op.get_bind().scalar(sa.text(f"SELECT COUNT(*) FROM {table} WHERE member_id IS NULL"))  # noqa: S608
        if detached:
            raise RuntimeError(
                f"Cannot downgrade below revision 0022: {detached} {table} rows belong to members who "
                "erased their data and stand for nobody, which the older schema cannot hold. Restore a "
                "backup taken before the upgrade instead."
            )
    for table in ("share", "tracked_link"):
        _member_id_nullable(table, False)
