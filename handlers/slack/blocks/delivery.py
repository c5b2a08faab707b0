"""Where a post was not delivered: the message to the admin who queued it, and the notes `/relais list`
and `/relais stats` show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.services.posts import Undelivered
from handlers.slack.blocks import Blocks, section
from handlers.slack.text import t

REFUSAL_REASONS = frozenset(
    {"restricted_action", "channel_not_found", "is_archived", "not_in_channel", "invalid_blocks",
     "msg_too_long", "msg_blocks_too_long"}
)  # fmt: skip


def refusal_reason(lang: str, error: str) -> str:
    """Why Slack refused a channel message, in words an admin can act on."""
    if error in REFUSAL_REASONS:
        return t(lang, f"refusal_{error}")
    return t(lang, "refusal_other", error=error)


def build_post_refused(payload: dict[str, Any]) -> tuple[str, Blocks]:
    lang = str(payload.get("lang", "en"))
    text = t(
        lang,
        "post_refused",
        id=payload["post_id"],
        channel=f"<#{payload['channel']}>",
        reason=refusal_reason(lang, str(payload["error"])),
    )
    return text, [section(text)]


def delivery_notes(lang: str, *, not_delivered: Sequence[Undelivered], sending: Sequence[str]) -> str:
    """What `/relais list` adds to a post's line: the channels that refused it and those still waiting."""
    notes = ""
    if not_delivered:
        channels = ", ".join(f"<#{x.destination}> ({x.error})" for x in not_delivered)
        notes += " · :warning: " + t(lang, "list_not_delivered", channels=channels)
    if sending:
        notes += " · " + t(lang, "list_sending", channels=", ".join(f"<#{c}>" for c in sending))
    return notes


def undelivered_line(lang: str, items: Sequence[Undelivered]) -> str | None:
    """What `/relais stats` adds: each post and channel that refused it, or None when all went out."""
    if not items:
        return None
    listed = ", ".join(
        t(lang, "stats_not_delivered_item", id=x.post_id, channel=f"<#{x.destination}>", error=x.error)
        for x in items
    )
    return ":warning: " + t(lang, "stats_not_delivered", items=listed)
