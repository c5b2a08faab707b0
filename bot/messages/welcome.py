"""The welcome Relais gives whoever installed it: that they are an admin, and what to do next."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.messages.model import Heading, Message, Note, Section, text

# The outbox kind of a welcome (`bot.flows.membership.installed` queues it; `bot.messages.outbox` renders
# it): sent by the drainer, so a throttled or failed send is retried rather than lost.
WELCOME_KIND: Final = "welcome"


def welcome(lang: str) -> Message:
    return Message(
        summary=text(lang, "welcome_summary"),
        parts=(
            Heading(text(lang, "welcome_title")),
            Section(text(lang, "welcome_next")),
            Note(text(lang, "welcome_note")),
        ),
    )


def welcome_of(payload: Mapping[str, Any]) -> Message:
    """The welcome an outbox row carries (its payload: the installer's language)."""
    return welcome(str(payload.get("lang", "en")))
