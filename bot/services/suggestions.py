"""Content suggested by employees: recorded, reviewed by an admin (approve → queued post, or reject),
and the employee told the outcome.

Every message goes through the outbox: each admin's review message (`suggestion_review`, with Approve /
Reject), where it landed remembered on the suggestion when it is sent (`review_messages`: channel,
message id, admin, language); once someone decides, an edit of each of them saying who decided what
(`suggestion_review_update`) and the outcome to the employee (`suggestion_outcome`). A review still
waiting when the suggestion is decided is dropped; one that went out meanwhile is closed as it lands.
If no admin could be reached at all, the employee is told so (`suggestion_unreached`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notifier import Delivered
from bot.services import members as member_service
from bot.services import outbox
from bot.services.posts import PostError
from models import Member, OutboxMessage, OutboxState, Suggestion, SuggestionState, Workspace

REVIEW_KIND: Final = "suggestion_review"  # to each admin, with Approve / Reject
REVIEW_UPDATE_KIND: Final = "suggestion_review_update"  # a review message once decided (an edit)
OUTCOME_KIND: Final = "suggestion_outcome"  # to the employee: approved (the post) or not selected
UNREACHED_KIND: Final = "suggestion_unreached"  # to the employee: no admin could be reached


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


async def get(
    session: AsyncSession, *, workspace_id: int, suggestion_id: int, for_update: bool = False
) -> Suggestion:
    """`for_update` locks the row until the transaction ends (PostgreSQL; SQLite has one writer): a
    decision and a review landing at the same moment never miss each other (`after_send`)."""
    query = select(Suggestion).where(Suggestion.workspace_id == workspace_id, Suggestion.id == suggestion_id)
    suggestion = await session.scalar(query.with_for_update() if for_update else query)
    if suggestion is None:
        raise PostError("unknown_suggestion", id=suggestion_id)
    return suggestion


async def reject(
    session: AsyncSession, *, workspace_id: int, suggestion_id: int, admin: Member, now: datetime
) -> Suggestion:
    suggestion = await get(session, workspace_id=workspace_id, suggestion_id=suggestion_id, for_update=True)
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
    suggestion = await get(session, workspace_id=workspace_id, suggestion_id=suggestion_id, for_update=True)
    if suggestion.state is not SuggestionState.PENDING:
        raise PostError("suggestion_already_decided")
    suggestion.state = SuggestionState.APPROVED
    suggestion.post_id = post_id
    suggestion.decided_by_id = admin.id
    suggestion.decided_at = now
    return suggestion


def _review_prefix(suggestion: Suggestion) -> str:
    return f"suggestion-review:{suggestion.id}:"


def review_payload(suggestion: Suggestion, *, author: str, lang: str) -> dict[str, Any]:
    """What a review message shows (`bot.messages.suggestions.review`); `author` is the suggester's
    platform id."""
    return {
        "suggestion_id": suggestion.id,
        "author": author,
        "url": suggestion.url,
        "reason": suggestion.reason,
        "lang": lang,
    }


async def ask_reviews(
    session: AsyncSession, *, suggestion: Suggestion, author: Member, admins: list[str], now: datetime
) -> None:
    """Enqueue the review message to each admin, in their language (sent with the caller's commit)."""
    for admin in admins:
        lang = await member_service.language_of_id(
            session, workspace_id=suggestion.workspace_id, external_id=admin
        )
        await outbox.enqueue(
            session,
            workspace_id=suggestion.workspace_id,
            kind=REVIEW_KIND,
            destination=admin,
            payload=review_payload(suggestion, author=author.external_id, lang=lang),
            now=now,
            dedupe_key=f"{_review_prefix(suggestion)}{admin}",
        )


async def close_reviews(session: AsyncSession, *, suggestion: Suggestion, now: datetime) -> None:
    """Once decided: drop the reviews not sent yet, edit those sent to say who decided what, and tell
    the employee (all sent with the caller's commit)."""
    await outbox.cancel_pending(
        session, workspace_id=suggestion.workspace_id, dedupe_prefix=_review_prefix(suggestion)
    )
    author = await session.get_one(Member, suggestion.member_id)
    for shown in suggestion.review_messages:
        await _close_one(session, suggestion, author, shown, now)
    await outbox.enqueue(
        session,
        workspace_id=suggestion.workspace_id,
        kind=OUTCOME_KIND,
        destination=author.external_id,
        payload={
            "url": suggestion.url,
            "state": suggestion.state.value,
            "post_id": suggestion.post_id,
            "lang": member_service.language_of(author),
        },
        now=now,
        dedupe_key=f"suggestion-outcome:{suggestion.id}",
    )


async def _close_one(
    session: AsyncSession, suggestion: Suggestion, author: Member, shown: dict[str, Any], now: datetime
) -> None:
    """Edit one review message to its decided form. Rows saved before the outbox carried reviews name
    the message `ts` (Slack's word) rather than `message_id`."""
    message_id = str(shown.get("message_id") or shown.get("ts") or "")
    channel = str(shown.get("channel") or "")
    if not (message_id and channel):
        return
    decider = await session.get(Member, suggestion.decided_by_id) if suggestion.decided_by_id else None
    payload = review_payload(suggestion, author=author.external_id, lang=str(shown.get("lang") or "en"))
    payload |= {
        "message_id": message_id,
        "decided": {
            "state": suggestion.state.value,
            "by": decider.external_id if decider is not None else None,
            "post_id": suggestion.post_id,
        },
    }
    await outbox.enqueue(
        session,
        workspace_id=suggestion.workspace_id,
        kind=REVIEW_UPDATE_KIND,
        destination=channel,
        payload=payload,
        now=now,
        dedupe_key=f"suggestion-closed:{suggestion.id}:{channel}:{message_id}",
    )


async def after_send(
    session: AsyncSession, message: OutboxMessage, outcome: Delivered, now: datetime
) -> None:
    """Outbox hook: a review that went out is remembered on its suggestion (closed at once if decided
    meanwhile); when the last review failed for good and none went out, the employee is told."""
    if message.kind != REVIEW_KIND:
        return
    try:
        suggestion = await get(
            session,
            workspace_id=message.workspace_id,
            suggestion_id=int(message.payload["suggestion_id"]),
            for_update=True,
        )
    except PostError:
        return  # not this workspace's (every look-up is scoped to its workspace), or deleted
    if outcome.ok:
        shown = {
            "channel": outcome.channel or message.destination,
            "message_id": outcome.message_id,
            "admin": message.destination,
            "lang": str(message.payload.get("lang", "en")),
        }
        suggestion.review_messages = [*suggestion.review_messages, shown]  # a new list: JSON is not tracked
        suggestion.updated_at = now
        if suggestion.state is not SuggestionState.PENDING:
            author = await session.get_one(Member, suggestion.member_id)
            await _close_one(session, suggestion, author, shown, now)
        return
    decided = suggestion.state is not SuggestionState.PENDING  # the employee hears the decision instead
    if message.state is OutboxState.FAILED and not suggestion.review_messages and not decided:
        others = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.workspace_id == message.workspace_id,
                OutboxMessage.dedupe_key.startswith(_review_prefix(suggestion), autoescape=True),
                OutboxMessage.id != message.id,
                OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT)),
            )
        )
        if others is None:
            author = await session.get_one(Member, suggestion.member_id)
            await outbox.enqueue(
                session,
                workspace_id=message.workspace_id,
                kind=UNREACHED_KIND,
                destination=author.external_id,
                payload={"url": suggestion.url, "lang": member_service.language_of(author)},
                now=now,
                dedupe_key=f"suggestion-unreached:{suggestion.id}",
            )


async def admin_ids(session: AsyncSession, *, workspace_id: int, configured: frozenset[str]) -> list[str]:
    """Who reviews suggestions and hears of a channel's trouble: the active members of THIS workspace who
    are its admins, flagged by the platform's directory or named in RELAIS_ADMINS (`configured`) for
    this workspace (alone, or with this workspace's id). One deployment serves several workspaces and
    platforms, and RELAIS_ADMINS is one list of ids for all of them: an id in it that is not a member
    here is another workspace's person (or one Relais never met here), and nothing of this workspace is
    sent to it."""
    found = await session.scalars(
        select(Member.external_id)
        .join(Workspace, Workspace.id == Member.workspace_id)
        .where(
            Member.workspace_id == workspace_id,
            Member.active.is_(True),
            or_(Member.is_admin.is_(True), member_service.named_admin(configured)),
        )
    )
    return sorted(set(found))
