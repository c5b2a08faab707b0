"""What a failed delivery says, and who must hear of it. Decisions follow the notifier's neutral codes
(`bot.notifier`); the platform's own error (`Delivered.detail`) is only passed on to logs and texts.

- A person who left (`recipient_gone`) is marked inactive (and skipped from then on).
- A channel Relais cannot post in (`channel_unusable`) is reported to the admins, once per channel and
  reason, instead of being retried forever. The admins' texts are chosen by the notifier's neutral
  `cause` (the payload's `cause`); the platform's own error (`error`) is only shown in them.
- A post's channel message that the platform refused for good (an announcement-only channel, a message
  it finds malformed or too long, …) is reported to the admin who queued it, in their language: the
  confirmation they got said only that the post was being published.
- A dead workspace token (`token_revoked`: the app's bot user or workspace is gone) is nobody's
  departure: no member is marked inactive, the messages keep waiting (retried hourly, attempts not
  counted, `last_error` saying why) and an error is logged once. The admins cannot be reached through
  the chat platform with that token; the log and `relais jobs list` (the outbox's waiting messages)
  say it.
- A suggestion's review message that went out is remembered on the suggestion (`suggestions`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notifier import CHANNEL_UNUSABLE, RECIPIENT_GONE, TOKEN_REVOKED, Delivered
from bot.services import members as member_service
from bot.services import outbox, suggestions, weekly
from bot.services import posts as post_service
from bot.services.outbox import AfterSend
from models import Member, OutboxMessage, OutboxState, Post

logger = logging.getLogger(__name__)

CREDENTIALS_PHRASE: Final = "refuses Relais's bot token"
CREDENTIALS_DEAD_NOTE: Final = (
    "{error}: the chat platform " + CREDENTIALS_PHRASE + ". {remedy}; this message waits until then."
)
# What to do when the notifier does not say (`Delivered.remedy`): each platform names its own setting.
DEFAULT_REMEDY: Final = "Replace the platform's credentials in Relais's settings"
ADMIN_ALERT_KIND: Final = "admin_alert"
POST_REFUSED_KIND: Final = "post_refused"  # to the admin who queued a post a channel refused

# Workspaces whose dead token was already logged by this process (logged again after a send succeeds).
_dead_tokens: set[int] = set()


def after_send(*, admins: frozenset[str]) -> AfterSend:
    """The drain's hook: a channel push becomes a `Delivery`; failures are handled as above.
    `admins` are the configured ones (`RELAIS_ADMINS`), besides the workspace admins Relais knows."""

    async def hook(session: AsyncSession, message: OutboxMessage, outcome: Delivered, now: datetime) -> None:
        await post_service.after_send(session, message, outcome, now)
        await suggestions.after_send(session, message, outcome, now)
        if outcome.ok:
            _dead_tokens.discard(message.workspace_id)
        if outcome.ok and message.kind == weekly.NUDGE_KIND:
            await weekly.nudge_delivered(session, message, now)
        if not outcome.ok and outcome.error == TOKEN_REVOKED:
            _keep_waiting(message, outcome, now)
            return
        if outcome.ok or message.state is not OutboxState.FAILED:
            return
        if outcome.error == RECIPIENT_GONE:
            await session.execute(
                update(Member)
                .where(Member.workspace_id == message.workspace_id, Member.external_id == message.destination)
                .values(active=False, admin_checked_at=None)  # not the directory's word: asked again
            )
            return
        told: set[str] = set()
        if message.kind == post_service.POST_KIND:
            told = await _tell_post_author(session, message, outcome, admins=admins, now=now)
        if outcome.error == CHANNEL_UNUSABLE and message.kind not in (ADMIN_ALERT_KIND, POST_REFUSED_KIND):
            for admin in await suggestions.admin_ids(
                session, workspace_id=message.workspace_id, configured=admins
            ):
                if admin in told:
                    continue  # the post's author already heard about this channel
                await outbox.enqueue(
                    session,
                    workspace_id=message.workspace_id,
                    kind=ADMIN_ALERT_KIND,
                    destination=admin,
                    payload={
                        "channel": message.destination,
                        "code": outcome.error,
                        "cause": outcome.cause,
                        "error": outcome.reason,
                        "lang": await _language(session, message.workspace_id, admin),
                    },
                    now=now,
                    dedupe_key=f"channel-problem:{message.destination}:{outcome.reason}:{admin}",
                )

    return hook


def _keep_waiting(message: OutboxMessage, outcome: Delivered, now: datetime) -> None:
    """A dead token is not the message's fault: it waits (its attempt not counted) with a clear error."""
    error = outcome.detail or "token"
    remedy = outcome.remedy or DEFAULT_REMEDY
    if message.workspace_id not in _dead_tokens:
        _dead_tokens.add(message.workspace_id)
        logger.error(
            "workspace %s: the chat platform answered %s: Relais's bot token no longer works; nothing is "
            "delivered and no member is marked inactive until it is replaced. %s",
            message.workspace_id,
            error,
            remedy,
        )
    message.state = OutboxState.PENDING
    message.attempts = max(message.attempts - 1, 0)
    message.next_attempt_at = now + timedelta(seconds=outcome.retry_after or 3600)
    message.last_error = CREDENTIALS_DEAD_NOTE.format(error=error, remedy=remedy)


async def _tell_post_author(
    session: AsyncSession,
    message: OutboxMessage,
    outcome: Delivered,
    *,
    admins: frozenset[str],
    now: datetime,
) -> set[str]:
    """Tell the admin who queued the post (or, if unknown, every admin) that this channel refused it;
    returns who was told."""
    post_id = int(message.payload["post"]["id"])
    post = await session.get(Post, post_id)
    author = (
        await session.get(Member, post.created_by_id)
        if post is not None and post.created_by_id is not None
        else None
    )
    if author is not None and author.active:
        recipients = [author.external_id]
    else:
        recipients = await suggestions.admin_ids(
            session, workspace_id=message.workspace_id, configured=admins
        )
    for recipient in recipients:
        await outbox.enqueue(
            session,
            workspace_id=message.workspace_id,
            kind=POST_REFUSED_KIND,
            destination=recipient,
            payload={
                "post_id": post_id,
                "channel": message.destination,
                "code": outcome.error,
                "cause": outcome.cause,
                "error": outcome.reason,
                "lang": await _language(session, message.workspace_id, recipient),
            },
            now=now,
            dedupe_key=f"post-refused:{post_id}:{message.destination}:{recipient}",
        )
    return set(recipients)


async def _language(session: AsyncSession, workspace_id: int, external_id: str) -> str:
    return await member_service.language_of_id(session, workspace_id=workspace_id, external_id=external_id)


@dataclass(frozen=True)
class Blocked:
    """Messages of one workspace waiting for a working bot token (what `relais jobs list` reports)."""

    workspace_id: int
    waiting: int
    error: str


async def blocked_by_credentials(session: AsyncSession) -> list[Blocked]:
    """Workspaces whose messages wait because the platform refuses the bot token: the admins cannot be
    told through the chat platform, so the operator's command says it."""
    rows = await session.execute(
        select(OutboxMessage.workspace_id, func.count(), func.max(OutboxMessage.last_error))
        .where(
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.last_error.contains(CREDENTIALS_PHRASE, autoescape=True),
        )
        .group_by(OutboxMessage.workspace_id)
        .order_by(OutboxMessage.workspace_id)
    )
    return [Blocked(workspace_id=w, waiting=int(n), error=str(e)) for w, n, e in rows]
