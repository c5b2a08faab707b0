"""From an outbox row to the message it carries: the one table every platform's notifier renders from.
How a message is sent (a new message, or an edit of one sent before) stays the notifier's business."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from bot.messages import notices, suggestions, weekly
from bot.messages.model import Message
from bot.messages.post import post_card
from bot.messages.welcome import WELCOME_KIND, welcome_of
from bot.notifier import (
    CAUSES,
    CHANNEL_ARCHIVED,
    CHANNEL_GONE,
    MALFORMED,
    NOT_A_MEMBER,
    NOT_ALLOWED,
    TOO_BIG,
)
from bot.services.connections import CONNECTED_KIND, EXPIRING_KIND
from bot.services.posting import SHARE_RESULT_KIND, ShareView
from bot.services.posts import POST_KIND, POST_UPDATE_KIND, PostCard
from bot.services.progress import PROGRESS_KIND, PROGRESS_UPDATE_KIND
from bot.services.recipients import ADMIN_ALERT_KIND, POST_REFUSED_KIND
from bot.services.shared_marks import NUDGE_UPDATE_KIND
from bot.services.suggestions import OUTCOME_KIND, REVIEW_KIND, REVIEW_UPDATE_KIND, UNREACHED_KIND
from bot.services.weekly import LEADERBOARD_KIND, NUDGE_KIND, RANK_KIND

Payload = Mapping[str, Any]

# Kinds that edit a message sent before (the payload's `message_id`) rather than send a new one.
EDIT_KINDS: Final = frozenset({POST_UPDATE_KIND, PROGRESS_UPDATE_KIND, REVIEW_UPDATE_KIND, NUDGE_UPDATE_KIND})
# The cause of a failure told in a row queued before notifiers reported causes, by the error it names
# (Slack's: the only platform then). Read only, for those rows: a notifier reports its own causes.
CAUSES_OF_EARLIER_ROWS: Final[Mapping[str, str]] = {
    "channel_not_found": CHANNEL_GONE,
    "invalid_blocks": MALFORMED,
    "is_archived": CHANNEL_ARCHIVED,
    "msg_blocks_too_long": TOO_BIG,
    "msg_too_long": TOO_BIG,
    "not_in_channel": NOT_A_MEMBER,
    "restricted_action": NOT_ALLOWED,
}


def _lang(payload: Payload) -> str:
    return str(payload.get("lang", "en"))


def _post(payload: Payload) -> Message:
    return post_card(PostCard.from_payload(payload["post"]), _lang(payload))


def _share_result(payload: Payload) -> Message:
    return notices.share_outcome(ShareView.from_payload(payload["share"]), _lang(payload))


def _connected(payload: Payload) -> Message:
    return notices.connected(network=str(payload["network"]), lang=_lang(payload))


def _expiring(payload: Payload) -> Message:
    timezone = payload.get("timezone")
    return notices.expiring(
        network=str(payload["network"]),
        expires_at=datetime.fromisoformat(str(payload["expires_at"])),
        timezone=str(timezone) if timezone else None,
        lang=_lang(payload),
    )


def _progress(payload: Payload) -> Message:
    return notices.progress(
        what=str(payload["what"]),
        done=int(payload.get("done", 0)),
        total=int(payload["total"]),
        lang=_lang(payload),
    )


def _cause(payload: Payload) -> str | None:
    """The notifier's neutral cause of a failed delivery (`bot.notifier.CAUSES`); rows queued before
    notifiers reported one carry only the platform's error, then always Slack's: read from it."""
    if "cause" not in payload:
        return CAUSES_OF_EARLIER_ROWS.get(str(payload.get("error")))
    cause = payload["cause"]
    return str(cause) if cause in CAUSES else None


def _admin_alert(payload: Payload) -> Message:
    channel, error = str(payload["channel"]), str(payload["error"])
    return notices.admin_alert(channel=channel, cause=_cause(payload), error=error, lang=_lang(payload))


def _post_refused(payload: Payload) -> Message:
    return notices.post_refused(
        post_id=int(payload["post_id"]),
        channel=str(payload["channel"]),
        cause=_cause(payload),
        error=str(payload["error"]),
        lang=_lang(payload),
    )


BUILDERS: Final[Mapping[str, Callable[[Payload], Message]]] = {
    POST_KIND: _post,
    POST_UPDATE_KIND: _post,
    SHARE_RESULT_KIND: _share_result,
    CONNECTED_KIND: _connected,
    EXPIRING_KIND: _expiring,
    NUDGE_KIND: weekly.nudge,
    NUDGE_UPDATE_KIND: weekly.nudge,
    LEADERBOARD_KIND: weekly.leaderboard,
    RANK_KIND: weekly.rank,
    PROGRESS_KIND: _progress,
    PROGRESS_UPDATE_KIND: _progress,
    ADMIN_ALERT_KIND: _admin_alert,
    POST_REFUSED_KIND: _post_refused,
    REVIEW_KIND: suggestions.review_of,
    REVIEW_UPDATE_KIND: suggestions.review_of,
    OUTCOME_KIND: suggestions.outcome_of,
    UNREACHED_KIND: suggestions.unreached_of,
    WELCOME_KIND: welcome_of,
}


def message_for(kind: str, payload: Payload) -> Message | None:
    """The message an outbox row of `kind` carries; None for a kind that is not a chat message (an API
    post to a social network) or that this version does not know."""
    build = BUILDERS.get(kind)
    return build(payload) if build is not None else None
