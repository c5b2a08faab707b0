"""The clock's jobs. Each is thin: open a session, call services, drain the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifier import Notifier
from bot.services import connections, outbox
from bot.services import posts as post_service
from bot.services.posting import Poster, ShareView

logger = logging.getLogger(__name__)


async def publish(
    sessions: async_sessionmaker[AsyncSession], *, notifier: Notifier, now: Callable[[], datetime]
) -> tuple[list[int], list[int]]:
    """Publish scheduled posts whose time has come, expire old ones, then send what that enqueued."""
    async with sessions() as session:
        published = await post_service.publish_due(session, now=now())
        expired = await post_service.expire_due(session, now=now())
        await session.commit()
    if published or expired:
        logger.info("published posts %s, expired posts %s", published, expired)
    await drain(sessions, notifier=notifier, now=now)
    return published, expired


async def drain(
    sessions: async_sessionmaker[AsyncSession], *, notifier: Notifier, now: Callable[[], datetime]
) -> int:
    """Send the chat messages waiting in the outbox (API posts are `social`'s work)."""
    return await outbox.drain(
        sessions,
        notifier=notifier,
        now=now,
        after_send=post_service.after_send,
    )


async def social(
    sessions: async_sessionmaker[AsyncSession],
    *,
    poster: Poster,
    notifier: Notifier,
    now: Callable[[], datetime],
) -> list[ShareView]:
    """API posts due again (429, 5xx) or interrupted, LinkedIn connections about to end, old connect
    attempts forgotten; then tell the members what came of it."""
    views = await poster.run_due()
    async with sessions() as session:
        warned = await connections.warn_expiring(session, now=now())
        await connections.purge_attempts(session, now=now())
        await session.commit()
    if views or warned:
        logger.info("API shares run: %d; expiry warnings: %d", len(views), len(warned))
    await drain(sessions, notifier=notifier, now=now)
    return views
