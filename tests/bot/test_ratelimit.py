"""The token buckets behind `/r/<code>`'s rate limits, by property: never more than the burst plus the
refill, the wait they announce is enough, and memory stays bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.ratelimit import TokenBuckets

requests = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(min_value=0, max_value=30, allow_nan=False)),
    max_size=200,
)


@given(
    requests,
    st.integers(min_value=1, max_value=20),
    st.floats(min_value=0.01, max_value=5, allow_nan=False),
)
def test_a_key_never_gets_more_than_its_burst_plus_the_refill(
    steps: list[tuple[str, float]], capacity: int, per_second: float
) -> None:
    buckets = TokenBuckets(capacity=capacity, per_second=per_second)
    now = 1_000.0
    first: dict[str, float] = {}
    admitted: dict[str, int] = {}
    for key, gap in steps:
        now += gap
        first.setdefault(key, now)
        if buckets.take(key, now) == 0.0:
            admitted[key] = admitted.get(key, 0) + 1
        # Since its first request, a key has had at most the burst plus what the refill added.
        assert admitted.get(key, 0) <= capacity + per_second * (now - first[key]) + 1e-9


@given(st.integers(min_value=1, max_value=20), st.floats(min_value=0.01, max_value=5, allow_nan=False))
def test_the_announced_wait_is_enough_and_nothing_is_taken_while_waiting(
    capacity: int, per_second: float
) -> None:
    buckets = TokenBuckets(capacity=capacity, per_second=per_second)
    for _ in range(capacity):
        assert buckets.take("a", 0.0) == 0.0
    wait = buckets.take("a", 0.0)
    assert wait > 0.0
    assert buckets.take("a", 0.0) == wait  # a refused request takes nothing
    assert buckets.take("b", 0.0) == 0.0  # other keys are not affected
    assert buckets.take("a", wait) == 0.0


def test_memory_is_bounded_and_a_forgotten_key_comes_back_full() -> None:
    buckets = TokenBuckets(capacity=1, per_second=0.001, max_keys=3)
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("a", 0.0) > 0.0
    for key in "bcd":
        assert buckets.take(key, 0.0) == 0.0
    assert len(buckets._buckets) == 3
    assert buckets.take("a", 0.0) == 0.0  # "a" was the least recently used, forgotten
