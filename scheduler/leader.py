"""One clock leads: the others wait, and one of them takes over within `TAKEOVER_SECONDS` of its death.

PostgreSQL: a session advisory lock held on a dedicated connection (released by the server when the
process or its connection dies). Two clocks never lead at once, by time alone (the old leader cannot be
asked anything once its connection is gone):

* the leader pings that connection every `HEARTBEAT_SECONDS`, each ping allowed as long: a lock the
  server released at time r was held when the last good ping started (≤ r), so the leader declares it
  lost by r + 2 heartbeats;
* then its work is cancelled (`lead`), and must have ended within `STOP_SECONDS`; if it has not, the
  process exits at once (its supervisor restarts it), so an old leader has fully stopped by
  r + 2 heartbeats + `STOP_SECONDS`;
* a new leader takes the lock at a ≥ r, waits `TAKEOVER_HEARTBEATS` heartbeats, and pings once more (so
  it still holds the lock) before it leads: at a + 3 heartbeats at the earliest, later than the above.

SQLite (one machine): an exclusive `flock` on a file beside the database (released by the kernel when
the process dies, and never lost while it lives).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

RETRY_SECONDS: Final = 15.0  # how often a standby asks for the lock
# How often a PostgreSQL leader pings the connection holding its lock, each ping allowed as long: a lost
# lock is noticed within two of these.
HEARTBEAT_SECONDS: Final = 5.0
# How long the work of a leader that lost its lock may take to stop after being cancelled.
STOP_SECONDS: Final = HEARTBEAT_SECONDS / 2
# A new leader waits this many heartbeats after taking the lock: more than an old leader takes to notice
# its loss (2) and stop (`STOP_SECONDS`).
TAKEOVER_HEARTBEATS: Final = 3
# The longest a standby takes to lead after the leader's lock is released: its next try, the wait, the
# last ping (plus the time PostgreSQL takes to answer the try).
TAKEOVER_SECONDS: Final = RETRY_SECONDS + (TAKEOVER_HEARTBEATS + 1) * HEARTBEAT_SECONDS
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
    abandon: Callable[[], None] | None = None,
) -> None:
    """Until `stop` is set: wait to lead, then run `work(ended)`. `ended` is set when it must stop
    leading. On `stop` the work may finish what it is doing (this process keeps the lock until it
    returns). On the lock lost, the work is cancelled at once, and must end within half a heartbeat
    (`STOP_SECONDS`), before any new leader can start; if it has not, `abandon` is called (by default
    the process exits at once). After a loss this process stands by, and leads again once it holds the
    lock again (another clock may have taken over meanwhile)."""
    while not stop.is_set():
        async with leadership(engine, stop, retry, heartbeat) as lease:
            if lease is None:
                return
            ended = asyncio.Event()
            watch = asyncio.create_task(_set_when_either(ended, stop, lease.lost))
            working: asyncio.Future[None] = asyncio.ensure_future(work(ended))
            lost: asyncio.Future[Any] = asyncio.ensure_future(lease.lost.wait())
            try:
                await asyncio.wait({working, lost}, return_when=asyncio.FIRST_COMPLETED)
                if not working.done():
                    working.cancel()
                    await asyncio.wait({working}, timeout=heartbeat / 2)
                    if not working.done():
                        (abandon or _exit)()
                if working.done() and not working.cancelled():
                    working.result()  # its error, if any
            finally:
                for task in (lost, watch, working):
                    task.cancel()
                await asyncio.gather(lost, watch, return_exceptions=True)
        if lease.lost.is_set():
            logger.warning("this clock no longer leads (its database connection dropped); standing by")


def _exit() -> None:
    """The work of a clock that lost its lock did not stop in time: end the process now, before a new
    leader starts (its supervisor starts it again, as a standby)."""
    logger.critical("this clock lost its lock and its jobs did not stop in time: exiting")
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(70)


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
                # Still held after the wait (the connection may have dropped meanwhile): lead from this
                # ping on, and keep pinging from it.
                pinged = asyncio.get_running_loop().time()
                if await _answers(connection, heartbeat):
                    lease = Lease()
                    keeper = asyncio.create_task(_keep(connection, lease, heartbeat, pinged))
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


async def _keep(connection: AsyncConnection, lease: Lease, every: float, last: float) -> None:
    """Ping the connection holding the lock every `every` seconds from `last` (the loop's time of the
    last good ping), each ping allowed `every` seconds: if one fails or does not answer in time, the lock
    is taken as lost (the server releases it when the session ends). So a lock released at r is known
    lost by r + 2 × `every`, whatever the network does."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(max(last + every - loop.time(), 0))
        last = loop.time()
        if not await _answers(connection, every):
            logger.warning("the connection holding the clock's lock dropped: this clock stops leading")
            lease.lost.set()
            return


async def _answers(connection: AsyncConnection, within: float) -> bool:
    """Whether the connection answers within `within` seconds. A ping that takes longer is left behind
    rather than awaited (cancelling a query on a dead network could take any time)."""
    ping = asyncio.ensure_future(_ping(connection))
    ping.add_done_callback(lambda done: done.cancelled() or done.exception())
    finished, _ = await asyncio.wait({ping}, timeout=within)
    if not finished:
        ping.cancel()
        return False
    return not ping.cancelled() and ping.exception() is None


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
