"""Conversation references: what a platform needs to write to a person or a channel first (Teams: the
Bot Framework's ConversationReference of a conversation the bot was in). The adapter remembers the latest
one each activity brings; its notifier looks it up when the outbox sends."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models import ConversationRef, Workspace


async def remember(
    session: AsyncSession, *, workspace_id: int, key: str, reference: dict[str, Any], now: datetime
) -> None:
    """Keep `reference` as the way to reach `key` (a member's AAD object id, a channel's conversation id)
    in the workspace, replacing an older one: one statement, so that concurrent activities of the same
    person agree without a conflict error. A name the older one gave the conversation (Teams names a
    channel in some activities only) is kept when the newer one has none. The caller commits."""
    if not _name_of(reference):
        older = _name_of(await reference_for(session, workspace_id=workspace_id, key=key))
        if older:
            reference = {**reference, "conversation": {**reference.get("conversation", {}), "name": older}}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ConversationRef).values(
        workspace_id=workspace_id, key=key, reference=reference, updated_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id", "key"],
            set_={"reference": statement.excluded.reference, "updated_at": statement.excluded.updated_at},
        )
    )


async def reference_for(session: AsyncSession, *, workspace_id: int, key: str) -> dict[str, Any] | None:
    """The reference last remembered for `key` in the workspace, or None."""
    return await session.scalar(
        select(ConversationRef.reference).where(
            ConversationRef.workspace_id == workspace_id, ConversationRef.key == key
        )
    )


async def names(
    session: AsyncSession,
    *,
    keys: Collection[str],
    workspace_id: int | None = None,
    platform: str | None = None,
    workspace: str | None = None,
) -> dict[str, str]:
    """The names of these conversations (channels) of a workspace (its id, or its platform and own id)
    as their stored references give them (a platform whose ids are not for people names a channel so);
    keys without one are left out."""
    if not keys:
        return {}
    query = select(ConversationRef.key, ConversationRef.reference).where(ConversationRef.key.in_(list(keys)))
    if workspace_id is not None:
        query = query.where(ConversationRef.workspace_id == workspace_id)
    else:
        query = query.join(Workspace, Workspace.id == ConversationRef.workspace_id).where(
            Workspace.platform == platform, Workspace.external_id == workspace
        )
    rows = await session.execute(query)
    return {key: name for key, reference in rows if (name := _name_of(reference))}


def _name_of(reference: object) -> str:
    conversation = reference.get("conversation") if isinstance(reference, dict) else None
    name = conversation.get("name") if isinstance(conversation, dict) else None
    return name.strip() if isinstance(name, str) else ""
