"""Progress of big rounds: an admin sees "delivered to 340 / 1,200" grow as the outbox drains.

A round (this week's reminders for one time zone, a post pushed to many channels) tags each of its
outbox rows with a `round_key`. When it has at least `PROGRESS_MIN` messages, a progress message is
enqueued first (so it goes out first) to the admins concerned; after each drain pass `refresh` counts
the round's settled rows (sent, failed for good, dropped) and edits that message in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifier import Notifier
from bot.services import members as member_service
from bot.services import outbox
from models import Member, OutboxMessage, OutboxState

PROGRESS_KIND: Final = "round_progress"
PROGRESS_UPDATE_KIND: Final = "round_progress_update"
PROGRESS_MIN: Final = 25
SETTLED: Final = (OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELLED)


async def announce(
    session: AsyncSession,
    *,
    workspace_id: int,
    round_key: str,
    what: str,
    total: int,
    recipients: Iterable[str],
    now: datetime,
) -> None:
    """Enqueue the progress message of a round of `total` messages to each recipient (chat user ids).
    Call before enqueueing the round's messages; nothing happens under `PROGRESS_MIN`."""
    if total < PROGRESS_MIN:
        return
    for recipient in recipients:
        same = (Member.workspace_id == workspace_id) & (Member.external_id == recipient)
        known = await session.scalar(select(Member).where(same))
        await outbox.enqueue(
            session,
            workspace_id=workspace_id,
            kind=PROGRESS_KIND,
            destination=recipient,
            payload={
                "round": round_key,
                "what": what,
                "total": total,
                "done": 0,
                "lang": member_service.language_of(known) if known is not None else "en",
            },
            now=now,
            dedupe_key=f"progress:{round_key}:{recipient}",
        )


async def refresh(sessions: async_sessionmaker[AsyncSession], *, notifier: Notifier, now: datetime) -> int:
    """Edit every unfinished progress message whose count changed; returns how many were edited."""
    async with sessions() as session:
        shown = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == PROGRESS_KIND, OutboxMessage.state == OutboxState.SENT
                )
            )
        ).all()
        pending = [row for row in shown if int(row.payload.get("done", 0)) < int(row.payload["total"])]
        edited = 0
        for row in pending:
            done = int(
                await session.scalar(
                    select(func.count()).where(
                        OutboxMessage.workspace_id == row.workspace_id,
                        OutboxMessage.round_key == row.payload["round"],
                        OutboxMessage.state.in_(SETTLED),
                    )
                )
                or 0
            )
            result = row.result or {}
            if done == int(row.payload.get("done", 0)) or not result.get("channel"):
                continue
            outcome = await notifier.send(
                kind=PROGRESS_UPDATE_KIND,
                destination=str(result["channel"]),
                payload={**row.payload, "done": done, "message_id": result.get("message_id")},
            )
            if outcome.ok:
                row.payload = {**row.payload, "done": done}
                row.updated_at = now
                edited += 1
        await session.commit()
    return edited
