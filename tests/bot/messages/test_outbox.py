"""Every kind of chat message the outbox carries has its neutral message; nothing else has one."""

from __future__ import annotations

from typing import Any

import pytest

from bot.messages import Message, plain_text
from bot.messages.outbox import BUILDERS, message_for
from bot.services.outbox import SOCIAL_POST_KIND
from bot.services.posting import ShareView
from bot.services.posts import PostCard
from models import Network, ShareStatus

CARD = PostCard(7, "https://example.com/a", "A", None, None, None, ("x",), "published").to_payload()
ENTRY = {"external_id": "U1", "name": "Ann", "points": 3, "shares": 1, "clicks": 1, "streak": 0, "rank": 1,
         "previous_rank": None}  # fmt: skip
REVIEW = {"suggestion_id": 3, "author": "U1", "url": "https://example.com/a", "reason": "Good read"}
PAYLOADS: dict[str, dict[str, Any]] = {
    "post": {"post": CARD, "lang": "fr"},
    "post_update": {"post": CARD, "message_id": "1.2"},
    "share_result": {"share": ShareView(1, 7, Network.X, ShareStatus.POSTED).to_payload()},
    "social_connected": {"network": "x"},
    "social_expiring": {"network": "linkedin", "expires_at": "2026-12-01T23:30:00+00:00", "timezone": None},
    "nudge": {"posts": [CARD], "tip": 2},
    "nudge_update": {"posts": [CARD], "tip": 2, "shared": {"7": ["x"]}, "message_id": "1.4"},
    "leaderboard": {"week": "2026-W48", "top": [ENTRY], "participants": 1, "shares": 1, "clicks": 1},
    "rank": {**ENTRY, "participants": 1},
    "round_progress": {"what": "post", "total": 3},
    "round_progress_update": {"what": "post", "total": 3, "done": 3, "message_id": "1.1"},
    "admin_alert": {"channel": "C1", "error": "is_archived"},
    "post_refused": {"post_id": 7, "channel": "C1", "error": "is_archived"},
    "suggestion_review": REVIEW,
    "suggestion_review_update": {
        **REVIEW,
        "message_id": "1.3",
        "decided": {"state": "approved", "by": "U2", "post_id": 7},
    },
    "suggestion_outcome": {"url": "https://example.com/a", "state": "rejected", "post_id": None},
    "suggestion_unreached": {"url": "https://example.com/a"},
    "welcome": {"lang": "fr"},
}


def test_every_chat_kind_is_covered() -> None:
    assert set(PAYLOADS) == set(BUILDERS)


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_each_kind_has_a_message_with_a_summary(kind: str) -> None:
    message = message_for(kind, PAYLOADS[kind])
    assert isinstance(message, Message)
    assert message.parts
    assert plain_text(message.summary).strip()


def test_the_language_comes_from_the_payload() -> None:
    assert plain_text(message_for("post", PAYLOADS["post"]).summary).startswith("À partager")  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", [SOCIAL_POST_KIND, "no_such_kind"])
def test_other_kinds_have_no_chat_message(kind: str) -> None:
    assert message_for(kind, {}) is None
