"""One clock leads: the others wait, and one of them takes over within `RETRY_SECONDS` of its death.

PostgreSQL: a session advisory lock held on a dedicated connection (released by the server when the
process or its connection dies). The leader checks that connection every `HEARTBEAT_SECONDS`; when it
drops (a restarted server, `pg_terminate_backend`, a failover), the leader stops leading and stands by
until it holds the lock again. A new leader waits three heartbeats before leading, so the old one has
stopped by then. SQLite (one machine): an exclusive `flock` on a file beside the database (released by
the kernel when the process dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

RETRY_SECONDS: Final = 15.0
# How often a PostgreSQL leader checks the connection holding its lock (and how long it waits for an
# answer): an old leader whose connection dropped notices within two of these. A new leader waits
# `TAKEOVER_HEARTBEATS` of them before leading, so the old one has stopped first: two clocks never lead
# at once.
HEARTBEAT_SECONDS: Final = 5.0
TAKEOVER_HEARTBEATS: Final = 3
LOCK_KEY: Final = 0x52454C414953  # "RELAIS"


class Lease:
    """This process leads. `lost` is set if the leadership ends before the holder lets it go: the
    PostgreSQL connection holding the lock dropped (the server released the lock with it)."""

    def __init__(self) -> None:
        self.lost = asyncio.Event()


async def lead(
    engine: AsyncEngine,
    stop: asyncio.Event,
    work: Callable[[asyncio.Event], Awaitable[None]],
    *,
    retry: float = RETRY_SECONDS,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> None:
    """Until `stop` is set: wait to lead, then run `work(ended)`. `ended` is set when it must stop
    leading: `stop`, or the lock lost. After a loss this process stands by, and leads again once it
    holds the lock again (another clock may have taken over meanwhile)."""
    while not stop.is_set():
        async with leadership(engine, stop, retry, heartbeat) as lease:
            if lease is None:
                return
            ended = asyncio.Event()
            watch = asyncio.create_task(_set_when_either(ended, stop, lease.lost))
            try:
                await work(ended)
            finally:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
        if lease.lost.is_set():
            logger.warning("this clock no longer leads (its database connection dropped); standing by")


async def _set_when_either(target: asyncio.Event, *events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    target.set()


@contextlib.asynccontextmanager
async def leadership(
    engine: AsyncEngine,
    stop: asyncio.Event,
    retry: float = RETRY_SECONDS,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[Lease | None]:
    """Wait until this process leads (yields a `Lease`, held until the block ends or it is lost), or
    until `stop` is set first (yields None)."""
    if engine.dialect.name == "postgresql":
        async with _postgres_lock(engine, stop, retry, heartbeat) as lease:
            yield lease
        return
    database = make_url(str(engine.url)).database or "relais.db"
    path = database + ".clock-lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        yield Lease() if await _file_lock(fd, path, stop, retry) else None
    finally:
        os.close(fd)  # closing the descriptor drops the lock


async def _file_lock(fd: int, path: str, stop: asyncio.Event, retry: float) -> bool:
    while not stop.is_set():
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another clock leads; standing by")
            await _wait(stop, retry)
            continue
        logger.info("this clock leads (lock file %s)", path)
        return True
    return False


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set first; True if it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


@contextlib.asynccontextmanager
async def _postgres_lock(
    engine: AsyncEngine, stop: asyncio.Event, retry: float, heartbeat: float
) -> AsyncIterator[Lease | None]:
    connection: AsyncConnection | None = None
    keeper: asyncio.Task[None] | None = None
    try:
        while not stop.is_set():
            try:
                connection = await engine.connect()
                got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
                await connection.commit()
            except Exception:
                logger.warning("could not ask PostgreSQL for the clock's lock; trying again", exc_info=True)
                got = False
            if got and connection is not None and not await _wait(stop, TAKEOVER_HEARTBEATS * heartbeat):
                lease = Lease()
                keeper = asyncio.create_task(_keep(connection, lease, heartbeat))
                logger.info("this clock leads (PostgreSQL advisory lock)")
                yield lease
                return
            if connection is not None:
                await _drop(connection)
                connection = None
            if not got:
                logger.info("another clock leads; standing by")
                await _wait(stop, retry)
        yield None
    finally:
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        if connection is not None:
            await _drop(connection)


async def _keep(connection: AsyncConnection, lease: Lease, every: float) -> None:
    """Check the connection holding the lock every `every` seconds; if it does not answer within that
    time, the lock is taken as lost (the server releases it when the session ends)."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.wait_for(_ping(connection), every)
        except Exception:
            logger.warning("the connection holding the clock's lock dropped: this clock stops leading")
            lease.lost.set()
            return


async def _ping(connection: AsyncConnection) -> None:
    await connection.scalar(text("SELECT 1"))
    await connection.commit()


async def _drop(connection: AsyncConnection) -> None:
    """Close the lock's connection for real (not back to the pool, where its session would keep the
    lock): the server releases the lock with the session."""
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()
