"""Posting a share through a network's API: `claims` (taking a share once, with its outbox row), `texts`
(what the post says) and `poster` (running the row, every outcome definite). Callers use the names below."""

from __future__ import annotations

from bot.services.posting.claims import (
    CLAIMABLE,
    RESTORE_KEY,
    UNKNOWN_REASONS,
    Claim,
    ShareView,
    claim,
    repost,
)
from bot.services.posting.poster import (
    BACKOFF_SECONDS,
    MAX_ATTEMPTS,
    RATE_LIMIT_FALLBACK,
    SHARE_RESULT_KIND,
    STALE_SENDING,
    Clients,
    ImageSource,
    Poster,
)
from bot.services.posting.texts import article_of, caption_fits, compose, linkedin_length

__all__ = [
    "BACKOFF_SECONDS",
    "CLAIMABLE",
    "MAX_ATTEMPTS",
    "RATE_LIMIT_FALLBACK",
    "RESTORE_KEY",
    "SHARE_RESULT_KIND",
    "STALE_SENDING",
    "UNKNOWN_REASONS",
    "Claim",
    "Clients",
    "ImageSource",
    "Poster",
    "ShareView",
    "article_of",
    "caption_fits",
    "claim",
    "compose",
    "linkedin_length",
    "repost",
]
