"""Activities Teams delivers again: the Bot Framework resends one it got no answer for in time, with the
same id. This process remembers the ids of the activities whose turn it ran (for `TTL_SECONDS`, at most
`CAPACITY` of them), so that a resent command or form submission has no second effect.

The memory is this process's: a redelivery reaching another web process is run again there. A resent
button click (an invoke) is run again on purpose: the core records each share once, and the person must
get an answer to their click.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from microsoft_agents.activity import Activity

TTL_SECONDS: Final = 3600.0
CAPACITY: Final = 10_000


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
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def first_time(self, activity: Activity) -> bool:
        """Whether this activity's turn is to run (and remember it ran); an activity without an id runs."""
        if not activity.id or activity.conversation is None:
            return True
        key = (activity.channel_id or "", activity.conversation.id, activity.id)
        now = self._monotonic()
        while self._seen and (
            len(self._seen) >= self._capacity or next(iter(self._seen.values())) <= now - self._ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True
