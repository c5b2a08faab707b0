"""Sending what waits in the outbox, as every sender does it: the clock's jobs after their work, and each
chat platform's adapter right after a request enqueued something (the clock would, a little later)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import outbox, progress, recipients, weekly


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    *,
    notifiers: outbox.Notifiers,
    now: Callable[[], datetime],
    admins: frozenset[str],
    stop: asyncio.Event | None = None,
    workspaces: Collection[int] | None = None,
) -> int:
    """Send the chat messages due, each workspace's through its platform's notifier in `notifiers`
    (nudges to people who opted out, paused or shared since are dropped; a person gone or a channel
    refusing is acted on, `admins` being RELAIS_ADMINS), then bring the big rounds' progress messages up
    to date; returns how many were sent. Once `stop` is set, no further message is taken.

    `workspaces`: only theirs. A request sends what it enqueued, which is its own workspace's (every
    query is scoped to it), and leaves every other workspace to the clock, which drains them all
    (None): with many workspaces, a request that drained all of them started a pass over every
    workspace's round, once per request."""
    sent = await outbox.drain(
        sessions,
        notifiers=notifiers,
        now=now,
        after_send=recipients.after_send(admins=admins),
        before_send=weekly.still_wanted,
        stop=stop,
        workspaces=workspaces,
    )
    await progress.refresh(sessions, notifiers=notifiers, now=now(), workspaces=workspaces)
    return sent
