"""What a platform's notifier needs from the core's records to reach people, each call in one short
session of its own: the conversation reference stored for a destination (Teams cannot write to a person
or a channel without one), remembering a newer one, and members' display names (for mentions by name).

An adapter runs no SQL and opens no session: it calls these with the core's sessions. No session is
held across a call to the platform, since each function commits or closes before it returns."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from bot.db import Sessions
from bot.services import conversations, members


async def reference_for(sessions: Sessions, *, workspace_id: int, key: str) -> dict[str, Any] | None:
    """The reference last remembered for `key` (a member's or a channel's platform id), or None."""
    async with sessions() as session:
        return await conversations.reference_for(session, workspace_id=workspace_id, key=key)


async def remember(
    sessions: Sessions, *, workspace_id: int, key: str, reference: dict[str, Any], now: datetime
) -> None:
    """Keep `reference` as the way to reach `key`, replacing an older one (committed on return)."""
    async with sessions() as session:
        await conversations.remember(
            session, workspace_id=workspace_id, key=key, reference=reference, now=now
        )
        await session.commit()


async def display_names(
    sessions: Sessions, *, workspace_id: int, external_ids: Collection[str]
) -> dict[str, str]:
    """The names Relais knows for these platform ids: members' display names, and channels' names as
    their stored references give them (ids without one are left out)."""
    if not external_ids:
        return {}
    async with sessions() as session:
        found = await members.display_names(session, workspace_id=workspace_id, external_ids=external_ids)
        others = [key for key in external_ids if key not in found]
        return found | await conversations.names(session, workspace_id=workspace_id, keys=others)


async def conversation_names(
    sessions: Sessions, *, platform: str, workspace: str, keys: Collection[str]
) -> dict[str, str]:
    """The names Relais knows for these channels of the workspace (`platform`, its own id)."""
    if not keys:
        return {}
    async with sessions() as session:
        return await conversations.names(session, platform=platform, workspace=workspace, keys=keys)
