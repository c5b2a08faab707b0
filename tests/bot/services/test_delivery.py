"""`bot.services.delivery.deliver`, the one way every sender sends the outbox (the clock's jobs and each
platform's adapter after a request): each workspace's messages through its own platform's notifier, a
nudge no longer wanted dropped, another platform's messages left waiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.services import delivery, outbox
from models import Member, OutboxMessage, OutboxState, Workspace
from tests.fakes.notifier import RecordingNotifier

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris


async def _workspace(session: AsyncSession, platform: str, external_id: str) -> Workspace:
    workspace = Workspace(
        platform=platform, external_id=external_id, timezone="Europe/Paris", created_at=NOW, updated_at=NOW
    )
    session.add(workspace)
    await session.flush()
    return workspace


async def _member(session: AsyncSession, workspace: Workspace, external_id: str, **fields: Any) -> Member:
    member = Member(
        workspace_id=workspace.id, external_id=external_id, created_at=NOW, updated_at=NOW, **fields
    )
    session.add(member)
    await session.flush()
    return member


async def test_each_platform_gets_its_own_messages_and_an_unwanted_nudge_is_dropped(
    sessions: Sessions,
) -> None:
    connected = {"network": "linkedin", "lang": "en"}
    async with sessions() as session:
        text_chat = await _workspace(session, "text", "ACME")
        teams = await _workspace(session, "teams", "TENANT")
        anne = await _member(session, text_chat, "UANNE")
        quinn = await _member(session, text_chat, "UQUINN", opted_out=True)
        for workspace_id, kind, destination, payload in (
            (text_chat.id, "social_connected", anne.external_id, connected),
            (text_chat.id, "nudge", quinn.external_id, {"member_id": quinn.id, "lang": "en", "posts": []}),
            (teams.id, "social_connected", "29:teams-user", connected),
        ):
            await outbox.enqueue(
                session,
                workspace_id=workspace_id,
                kind=kind,
                destination=destination,
                payload=payload,
                now=NOW,
            )
        await session.commit()
    recorder = RecordingNotifier()
    clock = FrozenClock(NOW)

    sent = await delivery.deliver(sessions, notifiers={"text": recorder}, now=clock.now, admins=frozenset())

    assert sent == 1
    assert [(s.kind, s.destination, s.text) for s in recorder.sent] == [
        (
            "social_connected",
            "UANNE",
            "Your LinkedIn account is connected. The share buttons now post for you in one click, "
            "and you can undo.",
        )
    ]
    async with sessions() as session:
        states = {
            (row.workspace_id, row.kind): row.state
            for row in (await session.scalars(select(OutboxMessage))).all()
        }
    assert states == {
        (text_chat.id, "social_connected"): OutboxState.SENT,
        (text_chat.id, "nudge"): OutboxState.CANCELLED,  # Quinn opted out since the round
        (teams.id, "social_connected"): OutboxState.PENDING,  # waits for a process serving Teams
    }
