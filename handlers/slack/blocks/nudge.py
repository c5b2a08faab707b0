"""The weekly nudge: a few posts the member has not shared yet, with their buttons, and one tip."""

from __future__ import annotations

from typing import Any

from bot.services.posts import PostCard
from handlers.slack.blocks import Blocks, context, section
from handlers.slack.blocks.post import build_post_message
from handlers.slack.text import t


def build_nudge(payload: dict[str, Any]) -> tuple[str, Blocks]:
    lang = str(payload.get("lang", "en"))
    cards = [PostCard.from_payload(card) for card in payload["posts"]]
    text = t(lang, "nudge_intro", count=len(cards))
    blocks: Blocks = [section(text)]
    for card in cards:
        blocks.append({"type": "divider"})
        blocks += build_post_message(card, lang)[1]
    blocks.append({"type": "divider"})
    blocks.append(context(t(lang, f"tip_{int(payload.get('tip', 1))}")))
    blocks.append(context(t(lang, "nudge_footer")))
    return text, blocks
