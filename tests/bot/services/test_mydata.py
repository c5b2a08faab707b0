"""The member's document is one picture of the database (`bot.services.mydata.one_snapshot`): a write
committed while it is being read does not show in it, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.mydata import one_snapshot
from models import Workspace

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def _workspaces(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Workspace)) or 0)


async def test_reads_after_one_snapshot_do_not_see_a_write_committed_in_between(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as reader:
        await one_snapshot(reader)
        assert await _workspaces(reader) == 0
        async with sessions() as writer:
            writer.add(Workspace(platform="slack", external_id="T9", created_at=AT, updated_at=AT))
            await writer.commit()
        assert await _workspaces(reader) == 0  # still the picture of the first read
    async with sessions() as later:
        assert await _workspaces(later) == 1
    # Without it, each read sees the latest commit: the check above would fail.
    async with sessions() as plain:
        assert await _workspaces(plain) == 1
        async with sessions() as writer:
            writer.add(Workspace(platform="slack", external_id="T10", created_at=AT, updated_at=AT))
            await writer.commit()
        assert await _workspaces(plain) == 2
