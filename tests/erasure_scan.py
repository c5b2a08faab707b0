"""What an erasure must leave nowhere: every row of every table of the models' metadata, each value
stringified (JSON columns as their JSON, non-ASCII as itself), searched for what named the person; and
no row anywhere pointing at an erased member's placeholder row (a share, a tracked link, a post…), which
would keep one history per erased person."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Base, Member


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


async def leftovers(sessions: async_sessionmaker[AsyncSession], needles: Iterable[str]) -> list[str]:
    """`table.column: needle` for each value holding one of `needles` (an empty list: nothing left)."""
    wanted = [needle for needle in needles if needle]
    assert wanted, "nothing to look for"
    found: list[str] = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    shown = _shown(value)
                    found += [f"{table.name}.{column}: {needle!r}" for needle in wanted if needle in shown]
    return found + await attached_to_erased(sessions)


# Rows that may point at an erased member's placeholder: a file their platform failed to delete at the
# erasure, kept (its id only) until the clock's retry deletes it (`erasure.delete_left_files`).
STILL_TO_DELETE = frozenset({"sent_file"})


async def attached_to_erased(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """`table.column -> erased member: n row(s)` for each column referencing a member row (every foreign
    key of the metadata onto `member`: shares, tracked links, posts…, and every `member_id` column with no
    foreign key: the dashboard's weekly figures per member) that still points at an erased member's
    placeholder row (but `STILL_TO_DELETE`)."""
    erased = select(Member.id).where(Member.erased_at.is_not(None))
    found: list[str] = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in STILL_TO_DELETE:
                continue
            for column in _members_named(table):
                count = await session.scalar(
                    select(func.count()).select_from(table).where(column.in_(erased))
                )
                if count:
                    found.append(f"{table.name}.{column.name} -> erased member: {count} row(s)")
    return found


def _members_named(table: Table) -> list[Column[Any]]:
    """The columns of `table` holding a member row's id: its foreign keys onto `member`, and a `member_id`
    kept without one."""
    return [
        column
        for column in table.columns
        if any(key.column.table is Member.__table__ for key in column.foreign_keys)
        or (column.name == "member_id" and not column.foreign_keys)
    ]


async def rows_in_every_table(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many rows each table holds (to show that a refused erasure changed nothing)."""
    counts: dict[str, int] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = len((await session.execute(select(table))).all())
    return counts
