"""Where a post was not delivered: the notes `/relais list` and `/relais stats` show (the message to the
admin who queued it is `bot.messages.notices.post_refused`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.services.posts import Undelivered
from handlers.slack.text import t


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
