"""Conversation references (what Teams' notifier needs to write first): the latest one per person or
channel and workspace wins, on SQLite and PostgreSQL, concurrent writers included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.conversations import reference_for, remember
from models import ConversationRef, Workspace

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


def _reference(
    conversation: str, service_url: str = "https://smba.trafficmanager.net/emea/"
) -> dict[str, object]:
    return {
        "bot": {"id": "28:app", "name": "Relais"},
        "user": {"id": "29:ann", "aadObjectId": "aad-ann"},
        "conversation": {"id": conversation, "conversationType": "personal", "tenantId": "tenant-1"},
        "channelId": "msteams",
        "serviceUrl": service_url,
    }


async def _workspaces(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        rows = [
            Workspace(platform="teams", external_id=tenant, created_at=NOW, updated_at=NOW)
            for tenant in ("tenant-1", "tenant-2")
        ]
        session.add_all(rows)
        await session.commit()
        return rows[0].id, rows[1].id


async def test_the_latest_reference_is_kept_per_key_and_workspace(sessions: Sessions) -> None:
    first, second = await _workspaces(sessions)
    async with sessions() as session:
        assert await reference_for(session, workspace_id=first, key="aad-ann") is None
        await remember(session, workspace_id=first, key="aad-ann", reference=_reference("a:1"), now=NOW)
        await remember(session, workspace_id=second, key="aad-ann", reference=_reference("a:other"), now=NOW)
        await session.commit()
    later = NOW + timedelta(days=3)
    moved = _reference("a:1", service_url="https://smba.trafficmanager.net/amer/")
    async with sessions() as session:
        await remember(session, workspace_id=first, key="aad-ann", reference=moved, now=later)
        await session.commit()
    async with sessions() as session:
        assert await reference_for(session, workspace_id=first, key="aad-ann") == moved
        assert await reference_for(session, workspace_id=second, key="aad-ann") == _reference("a:other")
        assert await reference_for(session, workspace_id=first, key="aad-bob") is None
        rows = (await session.scalars(select(ConversationRef).order_by(ConversationRef.id))).all()
    assert [(row.workspace_id, row.key, row.updated_at) for row in rows] == [
        (first, "aad-ann", later),
        (second, "aad-ann", NOW),
    ]


async def test_concurrent_activities_of_one_person_leave_one_reference(sessions: Sessions) -> None:
    first, _ = await _workspaces(sessions)

    async def one(index: int) -> None:
        async with sessions() as session:
            reference = _reference(f"a:{index}")
            await remember(
                session, workspace_id=first, key="19:news@thread.tacv2", reference=reference, now=NOW
            )
            await session.commit()

    await asyncio.gather(*(one(index) for index in range(8)))
    async with sessions() as session:
        rows = (await session.scalars(select(ConversationRef))).all()
    assert len(rows) == 1
    assert rows[0].reference in [_reference(f"a:{index}") for index in range(8)]
