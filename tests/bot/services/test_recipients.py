"""Who hears of a delivery and what it changes, through the outbox's drain (`bot.services.delivery`) with
a recording notifier: everything stays inside the workspace the message belongs to, whatever the
platform, when one deployment serves several."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.notifier import Delivered
from bot.services import delivery, outbox
from models import Member, OutboxMessage, Suggestion, Workspace
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


class Refusing(RecordingNotifier):
    """Records what it sends; answers `refusals[destination]` (a failed `Delivered`) for those."""

    def __init__(self, refusals: dict[str, Delivered] | None = None) -> None:
        super().__init__()
        self.refusals = refusals or {}

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        if destination in self.refusals:
            return self.refusals[destination]
        return await super().send(
            kind=kind, destination=destination, payload=payload, workspace_id=workspace_id
        )


async def _deliver(
    notifiers: dict[str, RecordingNotifier], sessions: Sessions, *, admins: frozenset[str]
) -> int:
    return await delivery.deliver(
        sessions, notifiers=dict(notifiers), now=FrozenClock(NOW).now, admins=admins
    )


async def test_a_review_lands_only_on_its_own_workspaces_suggestion(sessions: Sessions) -> None:
    """A review message of one workspace naming a suggestion id of another (a row of a deleted
    suggestion whose id was reused, a payload written by another version): the other workspace's
    suggestion is not touched, and nothing is recorded as where its review landed."""
    async with sessions() as session:
        acme = await _workspace(session, "text", "ACME")
        other = await _workspace(session, "text", "OTHER")
        anne = await _member(session, acme, "UANNE")
        await _member(session, other, "UBOSS", is_admin=True)
        suggestion = Suggestion(
            workspace_id=acme.id,
            member_id=anne.id,
            url="https://example.com/a",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(suggestion)
        await session.flush()
        await outbox.enqueue(
            session,
            workspace_id=other.id,
            kind="suggestion_review",
            destination="UBOSS",
            payload={"suggestion_id": suggestion.id, "author": "UANNE", "url": suggestion.url, "lang": "en"},
            now=NOW,
        )
        await session.commit()
    recorder = RecordingNotifier()

    assert await _deliver({"text": recorder}, sessions, admins=frozenset()) == 1

    async with sessions() as session:
        kept = await session.get_one(Suggestion, suggestion.id)
        assert kept.review_messages == []
        assert [m.kind for m in (await session.scalars(select(OutboxMessage))).all()] == ["suggestion_review"]
