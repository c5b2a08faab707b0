"""One clock leads: the others wait, and one of them takes over within `RETRY_SECONDS` of its death.

PostgreSQL: a session advisory lock held on a dedicated connection (released by the server when the
process or its connection dies). SQLite (one machine): an exclusive `flock` on a file beside the
database (released by the kernel when the process dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

RETRY_SECONDS: Final = 15.0
LOCK_KEY: Final = 0x52454C414953  # "RELAIS"


@contextlib.asynccontextmanager
async def leadership(
    engine: AsyncEngine, stop: asyncio.Event, retry: float = RETRY_SECONDS
) -> AsyncIterator[bool]:
    """Wait until this process leads (yields True, and leads until the block ends), or until `stop` is
    set first (yields False)."""
    if engine.dialect.name == "postgresql":
        async with _postgres_lock(engine, stop, retry) as leading:
            yield leading
        return
    database = make_url(str(engine.url)).database or "relais.db"
    path = database + ".clock-lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        yield await _file_lock(fd, path, stop, retry)
    finally:
        os.close(fd)  # closing the descriptor drops the lock


async def _file_lock(fd: int, path: str, stop: asyncio.Event, retry: float) -> bool:
    while not stop.is_set():
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another clock leads; standing by")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)
            continue
        logger.info("this clock leads (lock file %s)", path)
        return True
    return False


@contextlib.asynccontextmanager
async def _postgres_lock(engine: AsyncEngine, stop: asyncio.Event, retry: float) -> AsyncIterator[bool]:
    connection: AsyncConnection | None = None
    try:
        while not stop.is_set():
            connection = await engine.connect()
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
            await connection.commit()
            if got:
                logger.info("this clock leads (PostgreSQL advisory lock)")
                yield True
                return
            await connection.close()
            connection = None
            logger.info("another clock leads; standing by")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)
        yield False
    finally:
        if connection is not None:
            await connection.close()  # the server releases the lock with the session
