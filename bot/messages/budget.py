"""Sharing a size budget between texts, for every renderer's fitting pass (a platform caps a whole
message; the longest texts give way first)."""

from __future__ import annotations


def length_ceiling(lengths_desc: list[int], budget: int) -> int:
    """The largest length L such that the texts (lengths in descending order), each cut to at most L,
    total at most `budget`; the texts shorter than L stay whole."""
    rest = sum(lengths_desc)
    for count, length in enumerate(lengths_desc, start=1):
        rest -= length  # the texts shorter than this one stay whole
        following = lengths_desc[count] if count < len(lengths_desc) else 0
        ceiling = (budget - rest) // count
        if ceiling >= following:
            return max(ceiling, 1)
    return 1
