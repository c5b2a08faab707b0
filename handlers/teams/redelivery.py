"""Activities Teams delivers again: the Bot Framework resends one it got no answer for in time, with the
same id, to whichever web process its load balancer picks. A redelivery has no second effect, in any
process: a message is not run again, and an invoke gets the answer its first delivery got.

The database is the shared truth (`bot.services.inbound`): the process that first claims a delivery
runs its turn; an invoke's answer is stored for the others to give again. A message whose claim is not
new is dropped. An invoke whose first run is still going on in another process waits for its answer a
little (`WAIT_POLLS` × `POLL_SECONDS`, well within Teams' time for an invoke's answer), then answers
that it is being handled (`still_being_handled`, in the activity's language) rather than run it again; a
later delivery gets the stored answer. A first run that failed is forgotten (here and in the database):
the next delivery runs. Each database call is a short transaction of its own, none open across a turn.

Each process also remembers the activities whose turn it ran or saw (for `TTL_SECONDS`, at most
`CAPACITY` of them): the fast path, which also makes a redelivery arriving in the same process while the
first is still running wait for its answer rather than poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from microsoft_agents.activity import Activity

from bot.clock import Clock
from bot.db import Sessions
from bot.i18n import language_for
from bot.messages.commands import say
from bot.services import inbound
from handlers.teams.actions import invoke_body
from handlers.teams.membership import PLATFORM

logger = logging.getLogger(__name__)

TTL_SECONDS: Final = 3600.0
CAPACITY: Final = 10_000
# How long an invoke whose first run goes on in another process waits for its answer: 3 s.
POLL_SECONDS: Final = 0.2
WAIT_POLLS: Final = 15

Key = tuple[str, str, str]
Answer = dict[str, Any]
T = TypeVar("T")


class Redeliveries:
    """`sessions` and `clock` are the core's (the claims' database and time); `monotonic` times this
    process's memory, `sleep` the wait for another process's answer."""

    def __init__(
        self,
        sessions: Sessions,
        clock: Clock,
        *,
        ttl: float = TTL_SECONDS,
        capacity: int = CAPACITY,
        monotonic: Callable[[], float] = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
        polls: int = WAIT_POLLS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._monotonic = monotonic
        self._poll_seconds = poll_seconds
        self._polls = polls
        self._sleep = sleep
        self._seen: OrderedDict[Key, tuple[float, asyncio.Future[Answer] | None]] = OrderedDict()

    async def run_once(self, activity: Activity, run: Callable[[], Awaitable[None]]) -> bool:
        """Run a message's turn unless some process ran it (or runs it) already; whether it ran. An
        activity without an id runs."""
        key = _key(activity)
        if key is None:
            await run()
            return True
        self._forget_old()
        if key in self._seen:
            return False
        self._seen[key] = (self._monotonic(), None)
        try:
            stored = _stored(key)
            if not await self._claim(stored):
                return False  # another process ran it: remembered here too
            await self._run_claimed(stored, run)
        except BaseException:
            self._seen.pop(key, None)
            raise
        return True

    async def answer(self, activity: Activity, run: Callable[[], Awaitable[Answer]]) -> Answer:
        """The invoke's answer: `run`'s the first time, the same one when it comes again (to this process
        or another). A first run that failed is forgotten (nothing was answered: the next delivery
        runs)."""
        key = _key(activity)
        if key is None:
            return await run()
        self._forget_old()
        known = self._seen.get(key)
        if known is not None and known[1] is not None:
            return await asyncio.shield(known[1])
        answered: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._seen[key] = (self._monotonic(), answered)
        try:
            body, final = await self._answer_once(_stored(key), activity, run)
        except BaseException as exc:
            self._seen.pop(key, None)
            answered.set_exception(exc)
            answered.exception()  # retrieved: a redelivery waiting on it gets it too
            raise
        answered.set_result(body)
        if not final:
            self._seen.pop(key, None)  # "being handled": the next delivery asks the database again
        return body

    async def _answer_once(
        self, stored: str, activity: Activity, run: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        """Run the invoke if this process claims it; else the answer its first run stored, waited for a
        little while that run goes on. (answer, whether it is the first run's)."""
        if await self._claim(stored):
            return await self._run_claimed(stored, run), True
        for _ in range(self._polls):
            claimed = await inbound.answer_of(self._sessions, platform=PLATFORM, key=stored)
            if claimed is None:  # its first run failed and was forgotten: this delivery runs it
                if await self._claim(stored):
                    return await self._run_claimed(stored, run), True
                continue
            if claimed.answer is not None:
                return claimed.answer, True
            await self._sleep(self._poll_seconds)
        logger.info("a redelivered Teams invoke is still being handled elsewhere: told so")
        return _being_handled(activity), False

    async def _claim(self, stored: str) -> bool:
        return await inbound.claim(self._sessions, platform=PLATFORM, key=stored, now=self._clock.now())

    async def _run_claimed(self, stored: str, run: Callable[[], Awaitable[T]]) -> T:
        """Run a delivery this process claimed: forgotten if the run fails, its answer kept if it has one."""
        try:
            result = await run()
        except BaseException:
            try:
                await inbound.release(self._sessions, platform=PLATFORM, key=stored)
            except Exception:
                logger.exception("a failed Teams turn's claim could not be released")
            raise
        if isinstance(result, dict):
            try:
                await inbound.remember_answer(self._sessions, platform=PLATFORM, key=stored, answer=result)
            except Exception:  # the answer is given anyway; a redelivery elsewhere is told it is handled
                logger.exception("a Teams invoke's answer could not be stored for its redeliveries")
        return result

    def _forget_old(self) -> None:
        oldest = self._monotonic() - self._ttl
        while self._seen and (
            len(self._seen) >= self._capacity or next(iter(self._seen.values()))[0] <= oldest
        ):
            self._seen.popitem(last=False)


def _key(activity: Activity) -> Key | None:
    if not activity.id or activity.conversation is None:
        return None
    return (str(activity.channel_id or ""), activity.conversation.id, activity.id)


def _stored(key: Key) -> str:
    return inbound.delivery_key(*key)


def _being_handled(activity: Activity) -> Answer:
    return invoke_body(say(language_for(locale=activity.locale), "still_being_handled"))
