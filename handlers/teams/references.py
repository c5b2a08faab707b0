"""The core's records the Teams notifier reads and writes, through the core's functions that own their
sessions (`bot.flows.references`: an adapter runs no SQL and opens no session): the conversation
references stored for members and channels and members' display names. Each call is one short session
of the core's, never held across a call to Teams."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from bot.clock import Clock, SystemClock
from bot.db import Sessions
from bot.flows import references


class StoredConversations:
    """`handlers.teams.notifier.Conversations` on the database. `clock` stamps a remembered reference."""

    def __init__(self, sessions: Sessions, *, clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()

    async def reference_for(self, workspace_id: int, key: str) -> dict[str, Any] | None:
        return await references.reference_for(self._sessions, workspace_id=workspace_id, key=key)

    async def remember(self, workspace_id: int, key: str, reference: dict[str, Any]) -> None:
        await references.remember(
            self._sessions, workspace_id=workspace_id, key=key, reference=reference, now=self._clock.now()
        )

    async def names(self, workspace_id: int, external_ids: Collection[str]) -> Mapping[str, str]:
        return await references.display_names(
            self._sessions, workspace_id=workspace_id, external_ids=external_ids
        )
