"""Suggestions, whatever the chat platform: a member suggests a link (`/relais suggest <url> [why]`), the
admins are asked to review it (through the outbox), and one of them approves it (by queueing it from the
prefilled queue form) or rejects it; the reviews are then closed and the employee told, through the
outbox too (`bot.services.suggestions`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.flows.caller import ChatSurface, Refusal
from bot.flows.invocation import Invocation
from bot.i18n import url_reason
from bot.messages import Message, text
from bot.messages.commands import refusal, say, unknown_button
from bot.services import inputs, suggestions
from bot.services import posts as post_service
from bot.services.members import Directory
from bot.services.posts import PostError
from bot.services.preview import UnsafeURL, validate_url
from models import Member, SuggestionState

MAX_REASON = 1000  # characters of a suggestion's reason


async def suggest(run: Invocation) -> Message:
    """`suggest <url> [why]`: saved, and a review message to each admin enqueued with it (one commit);
    the platform sends them once the caller has their answer."""
    core, lang, args = run.core, run.lang, run.args
    if not args:
        raise Refusal("missing_url", command="suggest")
    try:
        url = validate_url(args[0])
    except UnsafeURL as exc:
        raise Refusal("invalid_url", reason=url_reason(lang, code=exc.code, detail=str(exc))) from None
    async with run.applying() as (session, caller):
        admins = await suggestions.admin_ids(
            session, workspace_id=caller.workspace.id, configured=core.settings.relais_admins
        )
        if not admins:
            raise Refusal("suggest_no_admins")
        reason = inputs.check_text(run.surface.for_network(" ".join(args[1:])), limit=MAX_REASON)
        now = core.clock.now()
        suggestion = await suggestions.suggest(
            session, workspace_id=caller.workspace.id, member=caller.member, url=url, reason=reason, now=now
        )
        await suggestions.ask_reviews(
            session, suggestion=suggestion, author=caller.member, admins=admins, now=now
        )
    return Message(text(lang, "suggest_sent"))


async def approve(
    core: Relais, surface: ChatSurface, directory: Directory, who: Who, suggestion_id: int | None
) -> Message | None:
    """Approve on a review: opens the queue form prefilled with the suggested link (the suggestion is
    approved when the admin submits it: `approved`; closing the form leaves it pending). What the admin
    is told instead, if anything (`suggestion_id` None: the button carried no id Relais wrote)."""
    caller = await acting.caller(core, directory, who)
    if not caller.admin:
        return say(caller.lang, "not_admin", command="queue")
    if suggestion_id is None:
        return unknown_button(caller.lang)
    async with core.sessions() as session:
        try:
            suggestion = await suggestions.get(
                session, workspace_id=caller.workspace.id, suggestion_id=suggestion_id
            )
        except PostError as error:
            return _refused(caller.lang, error)
    if suggestion.state is not SuggestionState.PENDING:
        return say(caller.lang, "suggestion_already_decided")
    default = post_service.default_channel(caller.workspace, fallback=core.settings.relais_channel)
    await surface.open_queue_form(
        (default,) if default else (), caller.lang, url=suggestion.url, suggestion_id=suggestion.id
    )
    return None


async def approved(
    session: AsyncSession,
    *,
    workspace_id: int,
    suggestion_id: int,
    post_id: int,
    admin: Member,
    now: datetime,
) -> None:
    """The queue form of an approval was submitted and `post_id` queued: the suggestion is approved, its
    reviews closed and the employee told (with the caller's commit). Decided meanwhile by another admin,
    it stays as it is: the post stands on its own."""
    try:
        suggestion = await suggestions.approve(
            session,
            workspace_id=workspace_id,
            suggestion_id=suggestion_id,
            post_id=post_id,
            admin=admin,
            now=now,
        )
    except PostError:
        return
    await suggestions.close_reviews(session, suggestion=suggestion, now=now)


async def reject(core: Relais, directory: Directory, who: Who, suggestion_id: int | None) -> Message | None:
    """Reject on a review: the suggestion is rejected, its reviews closed and the employee told. What the
    admin is told instead, if anything (`suggestion_id` None: the button carried no id Relais wrote)."""
    caller = await acting.caller(core, directory, who)
    if not caller.admin:
        return say(caller.lang, "not_admin", command="queue")
    if suggestion_id is None:
        return unknown_button(caller.lang)
    now = core.clock.now()
    async with core.sessions() as session:
        try:
            suggestion = await suggestions.reject(
                session,
                workspace_id=caller.workspace.id,
                suggestion_id=suggestion_id,
                admin=caller.member,
                now=now,
            )
        except PostError as error:
            return _refused(caller.lang, error)
        await suggestions.close_reviews(session, suggestion=suggestion, now=now)
        await session.commit()
    return None


def _refused(lang: str, error: PostError) -> Message:
    """Why nothing was decided (an unknown suggestion, one already decided)."""
    return Message(refusal(lang, error.code, error.params))
