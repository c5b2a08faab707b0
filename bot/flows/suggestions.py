"""Suggestions, whatever the chat platform: a member suggests a link (`/relais suggest <url> [why]`) and
the admins are asked to review it."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.flows.caller import Caller, ChatSurface, Refusal
from bot.i18n import url_reason
from bot.messages import Message, text
from bot.services import inputs, suggestions
from bot.services.preview import UnsafeURL, validate_url
from models import Suggestion

MAX_REASON = 1000  # characters of a suggestion's reason


class ReviewSurface(ChatSurface, Protocol):
    """Until reviews go through the outbox: the platform asks each admin to review a suggestion, and
    says how many it reached (it records where, to update the reviews once someone decides)."""

    async def send_reviews(
        self, session: AsyncSession, suggestion: Suggestion, author: str, admins: list[str]
    ) -> int: ...


async def suggest(
    core: Relais, session: AsyncSession, caller: Caller, surface: ReviewSurface, args: list[str]
) -> Message:
    """`suggest <url> [why]`: saved, then each admin asked to review it."""
    if not args:
        raise Refusal("missing_url", command="suggest")
    try:
        url = validate_url(args[0])
    except UnsafeURL as exc:
        raise Refusal("invalid_url", reason=url_reason(caller.lang, code=exc.code, detail=str(exc))) from None
    admins = await suggestions.admin_ids(
        session, workspace_id=caller.workspace.id, configured=core.settings.relais_admins
    )
    if not admins:
        raise Refusal("suggest_no_admins")
    suggestion = await suggestions.suggest(
        session,
        workspace_id=caller.workspace.id,
        member=caller.member,
        url=url,
        reason=inputs.check_text(surface.for_network(" ".join(args[1:])), limit=MAX_REASON),
        now=core.clock.now(),
    )
    # Saved before the admins are asked: no write transaction stays open across the platform's calls (on
    # SQLite every other writer would wait). Where each review went is saved with the command's commit.
    await session.commit()
    sent = await surface.send_reviews(session, suggestion, caller.member.external_id, admins)
    key = "suggest_sent" if sent else "suggest_unsent"
    return Message(text(caller.lang, key))
