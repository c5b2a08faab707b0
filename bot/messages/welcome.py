"""The welcome Relais gives whoever installed it: that they are an admin, and what to do next."""

from __future__ import annotations

from bot.messages.model import Heading, Message, Note, Section, text


def welcome(lang: str) -> Message:
    return Message(
        summary=text(lang, "welcome_summary"),
        parts=(
            Heading(text(lang, "welcome_title")),
            Section(text(lang, "welcome_next")),
            Note(text(lang, "welcome_note")),
        ),
    )
