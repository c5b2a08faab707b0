"""Recording shares exactly once per member × post × network, durably, before Slack hears back.

A share click must be on disk before the ack (Slack never resends a button click), and many clicks
arrive at once. One SQLAlchemy session and commit per click tops out around 430 clicks/s on SQLite
with "database is locked" errors; so shares go through `ShareWriter`, a group commit: one task takes
every pending record from a queue and inserts the batch in one transaction with
`INSERT … ON CONFLICT DO NOTHING RETURNING` on the unique key, then wakes each waiting request with
whether its row was new. Double clicks, parallel clicks and Slack retries all land on the same key.
Each new share also queues, in that transaction, the edit of the member's sent reminders showing the
post (`shared_marks`): read and enqueue only, no network call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import insert_ignoring_conflicts
from bot.services import shared_marks
from bot.services.shared_marks import NewShare
from models import Network, Share, ShareStatus

logger = logging.getLogger(__name__)

MAX_BATCH: Final = 500


@dataclass(frozen=True)
class ShareRecord:
    workspace_id: int
    member_id: int
    post_id: int
    network: Network
    status: ShareStatus
    at: datetime
    caption: str | None = None
    # The channel whose post card was clicked (None: a reminder or a personal link); written only when
    # this record creates the row: the first place counts.
    channel: str | None = None

    @property
    def key(self) -> tuple[int, int, Network]:
        return (self.member_id, self.post_id, self.network)


@dataclass
class _Pending:
    record: ShareRecord
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ShareWriter:
    """Group commit of share records. `await record(...)` returns once the row is committed: True if
    this call created it, False if it already existed. Start it with `start()`, stop with `stop()`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="relais-share-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def record(self, record: ShareRecord) -> bool:
        if self._task is None:
            raise RuntimeError("ShareWriter.record() before start()")
        pending = _Pending(record)
        await self._queue.put(pending)
        return await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                created = await self._write(batch)
            except Exception as exc:
                logger.exception("writing %d share records failed", len(batch))
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(exc)
            else:
                claimed: set[tuple[int, int, Network]] = set()
                for pending in batch:
                    key = pending.record.key
                    first = key in created and key not in claimed
                    claimed.add(key)
                    if not pending.done.done():
                        pending.done.set_result(first)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Pending]) -> set[tuple[int, int, Network]]:
        records: dict[tuple[int, int, Network], ShareRecord] = {}
        for pending in batch:
            records.setdefault(pending.record.key, pending.record)
        rows = [
            {
                "workspace_id": r.workspace_id,
                "member_id": r.member_id,
                "post_id": r.post_id,
                "network": r.network,
                "status": r.status,
                "caption": r.caption,
                "channel": r.channel,
                "attempts": 0,
                "intent_at": r.at if r.status is ShareStatus.INTENT else None,
                "created_at": r.at,
                "updated_at": r.at,
            }
            for r in records.values()
        ]
        async with self._sessions() as session:
            statement = insert_ignoring_conflicts(session, Share.__table__, rows).returning(
                Share.member_id, Share.post_id, Share.network
            )
            result = await session.execute(statement)
            created = {(row.member_id, row.post_id, Network(row.network)) for row in result}
            if created:
                # The member's sent reminders showing the post say so from now on: queued in this same
                # transaction, so a share is never recorded without it.
                new = [records[key] for key in created]
                await shared_marks.mark_shared(
                    session,
                    [NewShare(r.workspace_id, r.member_id, r.post_id, r.network) for r in new],
                    now=max(r.at for r in new),
                )
            await session.commit()
        return created
