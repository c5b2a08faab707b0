"""Activities Teams delivers again: the Bot Framework resends one it got no answer for in time, with the
same id. This process remembers the activities whose turn it ran (for `TTL_SECONDS`, at most `CAPACITY`
of them), so that a resent command or click has no second effect: a message is not run again, and an
invoke gets the answer its first delivery got (or will get, while it is still running).

The memory is this process's: a redelivery reaching another web process is run again there, where the
core's own rules hold (one share per member, post and network).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final

from microsoft_agents.activity import Activity

TTL_SECONDS: Final = 3600.0
CAPACITY: Final = 10_000

Key = tuple[str, str, str]
Answer = dict[str, Any]


class Redeliveries:
    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        capacity: int = CAPACITY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._monotonic = monotonic
        self._seen: OrderedDict[Key, tuple[float, asyncio.Future[Answer] | None]] = OrderedDict()

    def first_time(self, activity: Activity) -> bool:
        """Whether this activity's turn is to run (and remember it ran); an activity without an id runs."""
        key = _key(activity)
        if key is None:
            return True
        self._forget_old()
        if key in self._seen:
            return False
        self._seen[key] = (self._monotonic(), None)
        return True

    async def answer(self, activity: Activity, run: Callable[[], Awaitable[Answer]]) -> Answer:
        """The invoke's answer: `run`'s the first time, the same one when it comes again. A first run that
        failed is forgotten (nothing was answered: the next delivery runs)."""
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
            body = await run()
        except BaseException as exc:
            self._seen.pop(key, None)
            answered.set_exception(exc)
            answered.exception()  # retrieved: a redelivery waiting on it gets it too
            raise
        answered.set_result(body)
        return body

    def _forget_old(self) -> None:
        oldest = self._monotonic() - self._ttl
        while self._seen and (
            len(self._seen) >= self._capacity or next(iter(self._seen.values()))[0] <= oldest
        ):
            self._seen.popitem(last=False)


def _key(activity: Activity) -> Key | None:
    if not activity.id or activity.conversation is None:
        return None
    return (activity.channel_id or "", activity.conversation.id, activity.id)
