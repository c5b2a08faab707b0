"""The channel message of a post: preview, suggested caption and the share buttons."""

from __future__ import annotations

from typing import Any

from bot.services.posts import PostCard
from handlers.slack.blocks import Blocks, button, clip, context, escape, link
from handlers.slack.text import t

SHARE_ACTIONS = {"linkedin": "share_linkedin", "x": "share_x"}


def post_block_id(post_id: int) -> str:
    return f"post:{post_id}"


def build_post_message(card: PostCard, lang: str) -> tuple[str, Blocks]:
    title = card.title or card.url
    text = t(lang, "post_fallback", title=escape(clip(title, 200)), url=escape(card.url))
    body = f"*{link(card.url, clip(title, 200))}*"
    if card.description:
        body += "\n" + escape(clip(card.description, 500))
    preview: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip(body, 3000)}}
    if card.image_url:
        preview["accessory"] = {"type": "image", "image_url": card.image_url, "alt_text": clip(title, 1000)}
    blocks: Blocks = [preview]
    if card.caption:
        blocks.append(context(t(lang, "suggested_caption", caption=escape(card.caption))))
    if card.state in ("cancelled", "expired"):
        blocks.append(context(t(lang, f"post_{card.state}_note")))
        return text, blocks
    value = str(card.id)
    shares = [network for network in ("linkedin", "x") if network in card.networks]
    # One primary button per actions block (Slack's guideline): the first network's.
    buttons = [
        button(
            t(lang, f"share_on_{network}"),
            SHARE_ACTIONS[network],
            value=value,
            style="primary" if index == 0 else None,
        )
        for index, network in enumerate(shares)
    ]
    buttons.append(button(t(lang, "edit_and_share"), "edit_share", value=value))
    buttons.append(button(t(lang, "not_for_me"), "not_for_me", value=value))
    blocks.append({"type": "actions", "block_id": post_block_id(card.id), "elements": buttons})
    return text, blocks
