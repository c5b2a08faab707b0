"""Content suggested by employees: recorded, reviewed by an admin (approve → queued post, or reject),
and the employee told the outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.posts import PostError
from models import Member, Suggestion, SuggestionState


async def suggest(
    session: AsyncSession, *, workspace_id: int, member: Member, url: str, reason: str | None, now: datetime
) -> Suggestion:
    suggestion = Suggestion(
        workspace_id=workspace_id,
        member_id=member.id,
        url=url,
        reason=reason or None,
        created_at=now,
        updated_at=now,
    )
    session.add(suggestion)
    await session.flush()
    return suggestion


async def get(session: AsyncSession, *, workspace_id: int, suggestion_id: int) -> Suggestion:
    suggestion = await session.scalar(
        select(Suggestion).where(Suggestion.workspace_id == workspace_id, Suggestion.id == suggestion_id)
    )
    if suggestion is None:
        raise PostError("unknown_suggestion", id=suggestion_id)
    return suggestion


async def reject(
    session: AsyncSession, *, workspace_id: int, suggestion_id: int, admin: Member, now: datetime
) -> Suggestion:
    suggestion = await get(session, workspace_id=workspace_id, suggestion_id=suggestion_id)
    if suggestion.state is not SuggestionState.PENDING:
        raise PostError("suggestion_already_decided")
    suggestion.state = SuggestionState.REJECTED
    suggestion.decided_by_id = admin.id
    suggestion.decided_at = now
    return suggestion


async def approve(
    session: AsyncSession,
    *,
    workspace_id: int,
    suggestion_id: int,
    post_id: int,
    admin: Member,
    now: datetime,
) -> Suggestion:
    """The admin approved by queueing the suggested link (from the prefilled queue modal)."""
    suggestion = await get(session, workspace_id=workspace_id, suggestion_id=suggestion_id)
    if suggestion.state is not SuggestionState.PENDING:
        raise PostError("suggestion_already_decided")
    suggestion.state = SuggestionState.APPROVED
    suggestion.post_id = post_id
    suggestion.decided_by_id = admin.id
    suggestion.decided_at = now
    return suggestion


async def admin_ids(session: AsyncSession, *, workspace_id: int, configured: frozenset[str]) -> list[str]:
    """Who reviews suggestions: RELAIS_ADMINS and the members known to be workspace admins."""
    known = await session.scalars(
        select(Member.external_id).where(
            Member.workspace_id == workspace_id, Member.is_admin.is_(True), Member.active.is_(True)
        )
    )
    return sorted(set(configured) | set(known))
