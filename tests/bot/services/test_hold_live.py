"""`members.hold_live`, what every write racing an erasure relies on (the share writer's batch, a connection
finishing, an API post's outcome, a directory answer): a member it returns stays un-erased until the
holding transaction ends (an erasure waits for it, on SQLite and PostgreSQL), and a member erased first is
not returned."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import erasure
from bot.services import members as member_service
from models import Member

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def _members(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, Member, Member]:
    async with sessions() as session:
        workspace = await member_service.ensure_workspace(
            session, platform="slack", external_id="THOLD", now=NOW
        )
        held = await member_service.ensure_member(session, workspace=workspace, external_id="UHELD", now=NOW)
        other = await member_service.ensure_member(
            session, workspace=workspace, external_id="UOTHER", now=NOW
        )
        held.display_name = "Held Person"
        await session.commit()
        return workspace.id, held, other


async def test_an_erasure_waits_for_the_transaction_holding_the_member(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, held, other = await _members(sessions)
    async with sessions() as session:
        target = await erasure.find_target(session, platform="slack", workspace="THOLD", member="UHELD")
    assert target is not None
    async with sessions() as holding:
        live = await member_service.hold_live(
            holding, [(workspace_id, held.id), (workspace_id + 1, other.id)]
        )
        assert live == {held.id}  # a pair naming another workspace is nobody
        erasing = asyncio.ensure_future(
            erasure.erase_member(sessions, target, cipher=None, clients={}, now=NOW)
        )
        await asyncio.sleep(0.3)
        assert not erasing.done()  # waiting for the holder's commit
        await holding.commit()
    assert await erasing is not None
    async with sessions() as session:
        assert await member_service.hold_live(
            session, [(workspace_id, held.id), (workspace_id, other.id)]
        ) == {other.id}
        await session.commit()
        row = await session.get_one(Member, held.id)
        assert (row.erased_at, row.display_name) == (NOW, None)
