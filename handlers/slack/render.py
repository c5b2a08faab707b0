"""Neutral messages (`bot.messages`) as Block Kit: the one place that turns the core's messages into
what Slack shows. Typed text is escaped, catalogue markup becomes mrkdwn, mentions become `<@U…>` and
`<#C…>`, and every block keeps to Slack's documented sizes (`blocks.fit` does the final pass)."""

from __future__ import annotations

from typing import Any

from bot.messages import (
    Action,
    Actions,
    Divider,
    Facts,
    Heading,
    Image,
    Inline,
    Joined,
    Link,
    Mention,
    Message,
    Note,
    Part,
    Quote,
    Section,
    Strong,
    Text,
    plain_text,
)
from handlers.slack.blocks import Blocks, button, clip, context, escape, link, quote, section
from handlers.slack.text import COMMAND, t


def mrkdwn(content: Inline | int | float) -> str:
    """Inline content as Slack mrkdwn."""
    if isinstance(content, str):
        return escape(content)
    if isinstance(content, int | float):
        return str(content)
    if isinstance(content, Text):
        return t(content.lang, content.key, **{name: mrkdwn(value) for name, value in content.params.items()})
    if isinstance(content, Link):
        return link(content.url, plain_text(content.label, command=COMMAND))
    if isinstance(content, Mention):
        return f"<@{content.ref}>" if content.kind == "member" else f"<#{content.ref}>"
    if isinstance(content, Strong):
        return f"*{mrkdwn(content.content)}*"
    if isinstance(content, Quote):
        return quote(content.content)
    if isinstance(content, Joined):
        return content.separator.join(mrkdwn(part) for part in content.parts)
    raise TypeError(f"not inline content: {content!r}")


def render(message: Message) -> tuple[str, Blocks]:
    """`(fallback text, blocks)` for `chat.postMessage`, `chat.update` or a response URL."""
    return mrkdwn(message.summary), [block for part in message.parts for block in _blocks(part)]


def render_parts(parts: tuple[Part, ...] | list[Part]) -> Blocks:
    """Blocks alone (App Home, a modal's body)."""
    return [block for part in parts for block in _blocks(part)]


def _blocks(part: Part) -> Blocks:
    if isinstance(part, Section):
        block = section(mrkdwn(part.text))
        if part.image is not None:
            block["accessory"] = _image(part.image)
        elif part.action is not None:
            block["accessory"] = _button(part.action)
        return [block]
    if isinstance(part, Heading):
        return [{"type": "header", "text": {"type": "plain_text", "text": clip(plain_text(part.text), 150)}}]
    if isinstance(part, Note):
        return [context(mrkdwn(part.text))]
    if isinstance(part, Facts):
        fields = [
            {"type": "mrkdwn", "text": clip(f"*{mrkdwn(label)}*\n{mrkdwn(value)}", 2000)}
            for label, value in part.items
        ]
        return [{"type": "section", "fields": fields[:10]}]
    if isinstance(part, Image):
        return [_image(part)]
    if isinstance(part, Actions):
        row: dict[str, Any] = {"type": "actions", "elements": [_button(item) for item in part.items]}
        if part.id is not None:
            row["block_id"] = part.id
        return [row]
    if isinstance(part, Divider):
        return [{"type": "divider"}]
    raise TypeError(f"not a message part: {part!r}")


def _image(image: Image) -> dict[str, Any]:
    return {"type": "image", "image_url": image.url, "alt_text": clip(image.alt, 1000)}


def _button(action: Action) -> dict[str, Any]:
    return button(
        plain_text(action.label, command=COMMAND),
        action.id,
        value=action.value,
        url=action.url,
        style=action.style,
    )
