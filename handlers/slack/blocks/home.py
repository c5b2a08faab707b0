"""The App Home tab as Block Kit: the core's home (`bot.messages.home`), at most 100 blocks."""

from __future__ import annotations

from bot.messages.model import Part
from handlers.slack.render import render_parts


def build_home(parts: tuple[Part, ...]) -> dict[str, object]:
    return {"type": "home", "blocks": render_parts(parts)[:100]}
