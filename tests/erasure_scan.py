"""What an erasure must leave nowhere: every row of every table of the models' metadata, each value
stringified (JSON columns as their JSON, non-ASCII as itself), searched for what named the person."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Base


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
    return found


async def rows_in_every_table(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many rows each table holds (to show that a refused erasure changed nothing)."""
    counts: dict[str, int] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = len((await session.execute(select(table))).all())
    return counts
