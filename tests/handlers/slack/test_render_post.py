"""The Slack rendering of the neutral post card and personal share link is exactly the Block Kit the
Slack builders produced before the neutral model (the expected blocks were recorded from them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.messages.post import post_card, share_link
from bot.services.posts import PostCard
from handlers.slack.render import render

# Typed text full of what Slack reads as markup: it must come out escaped, never as a mention or link.
HOSTILE = PostCard(
    id=7,
    url="https://ex.com/a?b=1&c=<2>|",
    title="Title *bold* <@U1>",
    description="Desc & more",
    image_url="https://ex.com/i.png",
    caption="cap <!channel> & *x*\nline2",
    networks=("linkedin", "x"),
    state="published",
)
BARE = PostCard(8, "https://ex.com/b", None, None, None, None, ("linkedin", "x"), "published")

PUBLISHED_EN: tuple[str, list[dict[str, Any]]] = (
    "Share this: Title *bold* &lt;@U1&gt; https://ex.com/a?b=1&amp;c=&lt;2&gt;|",
    [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*<https://ex.com/a?b=1&amp;c=%3C2%3E%7C|Title *bold* &lt;@U1&gt;>*\nDesc &amp; more",
            },
            "accessory": {
                "type": "image",
                "image_url": "https://ex.com/i.png",
                "alt_text": "Title *bold* <@U1>",
            },
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Suggested caption: cap &lt;!channel&gt; &amp; *x*\nline2"}
            ],
        },
        {
            "type": "actions",
            "block_id": "post:7",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Share on LinkedIn", "emoji": True},
                    "action_id": "share_linkedin",
                    "value": "7",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Share on X", "emoji": True},
                    "action_id": "share_x",
                    "value": "7",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Edit & share", "emoji": True},
                    "action_id": "edit_share",
                    "value": "7",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Not for me", "emoji": True},
                    "action_id": "not_for_me",
                    "value": "7",
                },
            ],
        },
    ],
)

X_ONLY_FR: tuple[str, list[dict[str, Any]]] = (
    "À partager : Title *bold* &lt;@U1&gt; https://ex.com/a?b=1&amp;c=&lt;2&gt;|",
    [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*<https://ex.com/a?b=1&amp;c=%3C2%3E%7C|Title *bold* &lt;@U1&gt;>*\nDesc &amp; more",
            },
            "accessory": {
                "type": "image",
                "image_url": "https://ex.com/i.png",
                "alt_text": "Title *bold* <@U1>",
            },
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Légende suggérée : cap &lt;!channel&gt; &amp; *x*\nline2"}
            ],
        },
        {
            "type": "actions",
            "block_id": "post:7",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Partager sur X", "emoji": True},
                    "action_id": "share_x",
                    "value": "7",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Modifier et partager", "emoji": True},
                    "action_id": "edit_share",
                    "value": "7",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Pas pour moi", "emoji": True},
                    "action_id": "not_for_me",
                    "value": "7",
                },
            ],
        },
    ],
)

CANCELLED_EN: tuple[str, list[dict[str, Any]]] = (
    "Share this: Title *bold* &lt;@U1&gt; https://ex.com/a?b=1&amp;c=&lt;2&gt;|",
    [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*<https://ex.com/a?b=1&amp;c=%3C2%3E%7C|Title *bold* &lt;@U1&gt;>*\nDesc &amp; more",
            },
            "accessory": {
                "type": "image",
                "image_url": "https://ex.com/i.png",
                "alt_text": "Title *bold* <@U1>",
            },
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Suggested caption: cap &lt;!channel&gt; &amp; *x*\nline2"}
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "🚫 This post was withdrawn."}]},
    ],
)

BARE_EN: tuple[str, list[dict[str, Any]]] = (
    "Share this: https://ex.com/b https://ex.com/b",
    [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*<https://ex.com/b|https://ex.com/b>*"}},
        {
            "type": "actions",
            "block_id": "post:8",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Share on LinkedIn", "emoji": True},
                    "action_id": "share_linkedin",
                    "value": "8",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Share on X", "emoji": True},
                    "action_id": "share_x",
                    "value": "8",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Edit & share", "emoji": True},
                    "action_id": "edit_share",
                    "value": "8",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Not for me", "emoji": True},
                    "action_id": "not_for_me",
                    "value": "8",
                },
            ],
        },
    ],
)

SHARE_LINK_X_EN: tuple[str, list[dict[str, Any]]] = (
    "Share on X: https://relais.example/r/abc",
    [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Here is your personal link to share on X. Your caption:\n"
                ">My caption &amp; &lt;stuff&gt;\n"
                ">second",
            },
        },
        {
            "type": "actions",
            "block_id": "share:7:x",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open X", "emoji": True},
                    "action_id": "open_share_x",
                    "value": "7:x",
                    "url": "https://x.com/intent/tweet?text=My+caption+%26+%3Cstuff%3E%0Asecond&url=https%3A%2F%2Frelais.example%2Fr%2Fabc",
                    "style": "primary",
                }
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Tip: connect your X account and next time one click is enough.",
            },
            "accessory": {
                "type": "button",
                "text": {"type": "plain_text", "text": "Connect X", "emoji": True},
                "action_id": "connect_x",
                "value": "x",
            },
        },
    ],
)


@pytest.mark.parametrize(
    ("card", "lang", "expected"),
    [
        (HOSTILE, "en", PUBLISHED_EN),
        (replace(HOSTILE, networks=("x",)), "fr", X_ONLY_FR),
        (replace(HOSTILE, state="cancelled"), "en", CANCELLED_EN),
        (BARE, "en", BARE_EN),
    ],
    ids=["published", "x-only-fr", "cancelled", "bare"],
)
def test_post_card_renders_as_before(
    card: PostCard, lang: str, expected: tuple[str, list[dict[str, Any]]]
) -> None:
    text, blocks = render(post_card(card, lang))
    assert (text, blocks) == expected


def test_share_link_renders_as_before() -> None:
    message = share_link(
        network="x",
        post_id=7,
        link="https://relais.example/r/abc",
        caption="My caption & <stuff>\nsecond",
        lang="en",
        connectable=True,
    )
    assert render(message) == SHARE_LINK_X_EN
