"""Rows that reach across workspaces: a row of one workspace referring to a post, member, share, tracked
link or suggestion (any workspace-scoped row) of another. A cross-workspace test's snapshot compares each
workspace's own rows; a row written in the intruder's own workspace but pointing at the other's post (a
share, a dismissal) is in neither comparison. `crossing_rows` finds them, over every table, read from the
models' foreign keys (and the ids the dashboard tables keep without one)."""

from __future__ import annotations

from sqlalchemy import Column, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Base

# Ids kept without a foreign key (the dashboard's figures outlive the rows they were counted from).
_UNCONSTRAINED = {
    ("dashboard_member_week", "member_id"): "member",
    ("dashboard_reach_week", "post_id"): "post",
    ("dashboard_week", "post_id"): "post",
}


def references() -> list[tuple[Table, Column[int], Table]]:
    """(table, its column, the table it refers to) for each reference from a workspace-scoped row to
    another workspace-scoped row."""
    tables = Base.metadata.tables
    found: list[tuple[Table, Column[int], Table]] = []
    for table in Base.metadata.sorted_tables:
        if "workspace_id" not in table.c:
            continue
        for key in table.foreign_keys:
            target = key.column.table
            if isinstance(target, Table) and "workspace_id" in target.c and key.parent.name != "workspace_id":
                found.append((table, table.c[key.parent.name], target))
        for (name, column), target_name in _UNCONSTRAINED.items():
            if name == table.name:
                found.append((table, table.c[column], tables[target_name]))
    return found


async def crossing_rows(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """`<table>.<column> -> <table>: <count>` for each reference whose row and referred row are of
    different workspaces; empty when every row refers only to rows of its own workspace."""
    crossing: list[str] = []
    async with sessions() as session:
        for table, column, target in references():
            referred = target.alias("referred")
            count = await session.scalar(
                select(func.count())
                .select_from(table.join(referred, column == referred.c.id))
                .where(table.c.workspace_id != referred.c.workspace_id)
            )
            if count:
                crossing.append(f"{table.name}.{column.name} -> {target.name}: {count}")
    return crossing


async def assert_rows_stay_in_their_workspace(sessions: async_sessionmaker[AsyncSession]) -> None:
    """For the end of a cross-workspace test: no row refers to another workspace's row."""
    assert await crossing_rows(sessions) == []
