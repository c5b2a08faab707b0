"""What a failed delivery says about its recipient: a person who left is marked inactive (and skipped
from then on); a channel Relais cannot post in is reported to the admins, once per channel and reason,
instead of being retried forever."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notifier import Delivered
from bot.services import members as member_service
from bot.services import outbox, suggestions, weekly
from bot.services import posts as post_service
from bot.services.outbox import AfterSend
from models import Member, OutboxMessage, OutboxState

RECIPIENT_GONE: Final = "recipient_gone"  # what a notifier reports for a person who left
# What a notifier reports for a channel that cannot be posted in (Slack's own error codes).
CHANNEL_PROBLEMS: Final = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
ADMIN_ALERT_KIND: Final = "admin_alert"


def after_send(*, admins: frozenset[str]) -> AfterSend:
    """The drain's hook: a channel push becomes a `Delivery`; failures are handled as above.
    `admins` are the configured ones (`RELAIS_ADMINS`), besides the workspace admins Relais knows."""

    async def hook(session: AsyncSession, message: OutboxMessage, outcome: Delivered, now: datetime) -> None:
        await post_service.after_send(session, message, outcome)
        if outcome.ok and message.kind == weekly.NUDGE_KIND:
            await weekly.nudge_delivered(session, message, now)
        if outcome.ok or message.state is not OutboxState.FAILED:
            return
        if outcome.error == RECIPIENT_GONE:
            await session.execute(
                update(Member)
                .where(Member.workspace_id == message.workspace_id, Member.external_id == message.destination)
                .values(active=False)
            )
        elif outcome.error in CHANNEL_PROBLEMS and message.kind != ADMIN_ALERT_KIND:
            for admin in await suggestions.admin_ids(
                session, workspace_id=message.workspace_id, configured=admins
            ):
                known = await session.scalar(
                    select(Member).where(
                        Member.workspace_id == message.workspace_id, Member.external_id == admin
                    )
                )
                lang = member_service.language_of(known) if known is not None else "en"
                await outbox.enqueue(
                    session,
                    workspace_id=message.workspace_id,
                    kind=ADMIN_ALERT_KIND,
                    destination=admin,
                    payload={"channel": message.destination, "error": outcome.error, "lang": lang},
                    now=now,
                    dedupe_key=f"channel-problem:{message.destination}:{outcome.error}:{admin}",
                )

    return hook
