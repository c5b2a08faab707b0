"""Progress of big rounds: an admin sees "delivered to 340 / 1,200" grow as the outbox drains.

A round (this week's reminders for one time zone, a post pushed to many channels) tags each of its
outbox rows with a `round_key`. When it has at least `PROGRESS_MIN` messages, a progress message is
enqueued first (so it goes out first) to the admins concerned; after each drain pass `refresh` counts
the round's settled rows (sent, failed for good, dropped) and edits that message in place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import members as member_service
from bot.services import outbox
from models import Member, OutboxMessage, OutboxState, Workspace

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


@dataclass(frozen=True)
class _Edit:
    """A progress message to bring to `done`: its outbox row, where it is, and what it will say."""

    row_id: int
    workspace_id: int
    channel: str
    payload: dict[str, Any]
    done: int


async def refresh(
    sessions: async_sessionmaker[AsyncSession],
    *,
    notifiers: outbox.Notifiers,
    now: datetime,
    workspaces: Collection[int] | None = None,
) -> int:
    """Edit every unfinished progress message whose count changed (of `workspaces` if given), through the
    notifier of its workspace's platform (those of other platforms wait); returns how many were edited.

    The counts are read first in a short transaction; the edits (Slack calls, which can take seconds) are
    made outside any, and each one's result is recorded in its own short write: no write lock is held
    across a network call."""
    served = outbox.served_platforms(notifiers)
    if not served:
        return 0
    edited = 0
    platforms = await _platforms(sessions)
    for edit in await _edits(sessions, served, workspaces):
        outcome = await notifiers[platforms[edit.workspace_id]].send(
            kind=PROGRESS_UPDATE_KIND,
            destination=edit.channel,
            payload=edit.payload,
            workspace_id=edit.workspace_id,
        )
        if outcome.ok:
            await _record(sessions, edit, now)
            edited += 1
    return edited


async def _platforms(sessions: async_sessionmaker[AsyncSession]) -> dict[int, str]:
    async with sessions() as session:
        return {
            id_: str(platform)
            for id_, platform in await session.execute(select(Workspace.id, Workspace.platform))
        }


async def _edits(
    sessions: async_sessionmaker[AsyncSession], platforms: list[str], workspaces: Collection[int] | None
) -> list[_Edit]:
    """The progress messages shown on `platforms` (in `workspaces` if given) whose round has settled more
    messages since (reads only)."""
    query = select(OutboxMessage).where(
        OutboxMessage.kind == PROGRESS_KIND,
        OutboxMessage.state == OutboxState.SENT,
        outbox.of_platforms(platforms),
    )
    if workspaces is not None:
        query = query.where(OutboxMessage.workspace_id.in_(list(workspaces)))
    async with sessions() as session:
        shown = (await session.scalars(query)).all()
        edits: list[_Edit] = []
        for row in shown:
            result = row.result or {}
            shown_done = int(row.payload.get("done", 0))
            if shown_done >= int(row.payload["total"]) or not result.get("channel"):
                continue
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
            if done != shown_done:
                payload = {**row.payload, "done": done, "message_id": result.get("message_id")}
                edits.append(_Edit(row.id, row.workspace_id, str(result["channel"]), payload, done))
        await session.commit()
    return edits


async def _record(sessions: async_sessionmaker[AsyncSession], edit: _Edit, now: datetime) -> None:
    """Remember what the message now shows (never a lower count than another drainer recorded)."""
    async with sessions() as session:
        row = await session.get_one(OutboxMessage, edit.row_id)
        if int(row.payload.get("done", 0)) < edit.done:
            row.payload = {**row.payload, "done": edit.done}
            row.updated_at = now
            await session.commit()
