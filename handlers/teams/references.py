"""The core's records the Teams notifier reads and writes, through the core's sessions and services (an
adapter runs no SQL): the conversation references stored for members and channels
(`bot.services.conversations`) and members' display names (`bot.services.members`). Each call is one
short session, never held across a call to Teams."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from bot.clock import Clock, SystemClock
from bot.db import Sessions
from bot.services import conversations, members


class StoredConversations:
    """`handlers.teams.notifier.Conversations` on the database. `clock` stamps a remembered reference."""

    def __init__(self, sessions: Sessions, *, clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()

    async def reference_for(self, workspace_id: int, key: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            return await conversations.reference_for(session, workspace_id=workspace_id, key=key)

    async def remember(self, workspace_id: int, key: str, reference: dict[str, Any]) -> None:
        async with self._sessions() as session:
            await conversations.remember(
                session, workspace_id=workspace_id, key=key, reference=reference, now=self._clock.now()
            )
            await session.commit()

    async def names(self, workspace_id: int, external_ids: Collection[str]) -> Mapping[str, str]:
        if not external_ids:
            return {}
        async with self._sessions() as session:
            return await members.display_names(session, workspace_id=workspace_id, external_ids=external_ids)
