"""Token buckets by key, in process memory: a cheap first defence that costs no database work.

Each web process keeps its own buckets, so N processes admit up to N times the rate; whatever must hold
across processes (a click counted once) is enforced by the database, not here. Time is passed in by the
caller (from the injected clock), so tests move it without sleeping.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

MAX_KEYS: Final = 100_000
EPSILON: Final = 1e-9  # float rounding: waiting exactly the announced time must be enough


class TokenBuckets:
    """One bucket per key holding up to `capacity` tokens, refilled at `per_second`; a request takes one.

    Memory is bounded: beyond `max_keys` the least recently used bucket is forgotten (it comes back
    full, which only ever errs towards admitting).
    """

    def __init__(self, *, capacity: float, per_second: float, max_keys: int = MAX_KEYS) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive refill rate")
        self.capacity = capacity
        self.per_second = per_second
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)

    def take(self, key: str, now: float) -> float:
        """Take a token for `key` at time `now` (seconds). Returns 0.0 when one was taken, otherwise
        the seconds until one will be available (nothing is taken then)."""
        tokens, at = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.per_second)
        wait = 0.0
        if tokens >= 1 - EPSILON:
            tokens = max(0.0, tokens - 1)
        else:
            wait = (1 - tokens) / self.per_second
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
