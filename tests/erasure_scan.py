"""What an erasure must leave nowhere: every row of every table of the models' metadata, each value
stringified (JSON columns as their JSON, non-ASCII as itself), searched for what named the person; and
no row anywhere pointing at an erased member's placeholder row (a share, a tracked link, a post…), which
would keep one history per erased person."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
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
    key of the metadata onto `member`: shares, tracked links, posts…) that still points at an erased
    member's placeholder row (but `STILL_TO_DELETE`)."""
    erased = select(Member.id).where(Member.erased_at.is_not(None))
    found: list[str] = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for key in table.foreign_keys:
                if key.column.table is not Member.__table__ or table.name in STILL_TO_DELETE:
                    continue
                count = await session.scalar(
                    select(func.count()).select_from(table).where(key.parent.in_(erased))
                )
                if count:
                    found.append(f"{table.name}.{key.parent.name} -> erased member: {count} row(s)")
    return found


async def rows_in_every_table(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many rows each table holds (to show that a refused erasure changed nothing)."""
    counts: dict[str, int] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = len((await session.execute(select(table))).all())
    return counts
