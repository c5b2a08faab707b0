"""The same post, nudge and leaderboard rendered for Slack (Block Kit) and for Teams (an Adaptive Card)
carry the same facts: the same titles, descriptions, captions, names, points and totals in the text a
person reads, and the same buttons (id, value and label; or label and address). Only this test may
import both adapters."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from bot.messages import Message
from bot.messages.outbox import message_for
from bot.services.posts import PostCard
from handlers.slack.blocks.fit import text_objects
from handlers.slack.render import render as render_slack
from handlers.teams.render import render as render_teams

LAUNCH = PostCard(
    7,
    "https://example.com/launch?a=1&b=2",
    "Launch day: R&D ships <Beam>",
    "Set up in minutes_ loved by [teams]",
    "https://example.com/cover.png",
    "Proud of the team & our [customers]_",
    ("linkedin", "x"),
    "published",
)
GUIDE = PostCard(8, "https://example.com/guide", "A guide", None, None, None, ("x",), "published")


def entry(rank: int, points: int, name: str, previous: int | None = None) -> dict[str, Any]:
    return {
        "external_id": f"member-{rank}",
        "name": name,
        "points": points,
        "shares": 1,
        "clicks": 2,
        "streak": 0,
        "rank": rank,
        "previous_rank": previous,
    }


TOP = [entry(1, 30, "Ann Lee"), entry(2, 15, "Élodie & Zoë"), entry(3, 4, "Bob Stone", previous=8)]
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "post": (
        "post",
        {"post": LAUNCH.to_payload(), "lang": "en"},
        [
            "Launch day: R&D ships <Beam>",
            "Set up in minutes_ loved by [teams]",
            "Proud of the team & our [customers]_",
        ],
    ),
    "nudge": (
        "nudge",
        {"posts": [LAUNCH.to_payload(), GUIDE.to_payload()], "tip": 2, "lang": "fr"},
        ["2 publication", "Launch day: R&D ships <Beam>", "A guide", "Proud of the team & our [customers]_"],
    ),
    "shared nudge": (
        "nudge_update",
        {
            "posts": [LAUNCH.to_payload(), GUIDE.to_payload()],
            "tip": 2,
            "lang": "fr",
            "shared": {"7": ["linkedin"]},
            "message_id": "1.2",
        },
        ["2 publication", "Launch day: R&D ships <Beam>", "✓ Partagé sur LinkedIn", "A guide"],
    ),
    "leaderboard": (
        "leaderboard",
        {
            "week": "2026-W48",
            "top": TOP,
            "climbers": [TOP[2]],
            "participants": 12,
            "shares": 21,
            "clicks": 340,
            "top_post": {"title": "Launch & more", "url": "https://example.com/launch", "shares": 9},
            "lang": "en",
        },
        [
            "week 2026-W48",
            "Ann Lee",
            "30 points",
            "Élodie & Zoë",
            "15 points",
            "Bob Stone",
            "4 points",
            "Bob Stone (+5)",
            "21 shares, 340 clicks, 12 people",
            "Launch & more (9 shares)",
        ],
    ),
}


def slack_reading(blocks: list[dict[str, Any]]) -> tuple[str, list[tuple[str, ...]], list[str]]:
    """What a Slack user reads (text without mrkdwn), the buttons, and the images."""
    words = []
    for obj in text_objects(blocks):
        shown = re.sub(r"<([^<>|]+)\|([^<>]*)>", r"\2", obj["text"])  # <url|label>
        shown = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", shown)  # *bold*
        words.append(html.unescape(shown))
    buttons: list[tuple[str, ...]] = []
    images: list[str] = []
    stack: list[Any] = [blocks]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[0:0] = item
        elif isinstance(item, dict):
            if item.get("type") == "button":
                label = item["text"]["text"]
                buttons.append(
                    (label, item["url"]) if "url" in item else (item["action_id"], item["value"], label)
                )
            elif item.get("type") == "image":
                images.append(item["image_url"])
            stack[0:0] = [value for value in item.values() if isinstance(value, list | dict)]
    return "\n".join(words), buttons, images


def teams_reading(card: dict[str, Any]) -> tuple[str, list[tuple[str, ...]], list[str]]:
    """What a Teams user reads (text without Markdown), the buttons, and the images."""
    words: list[str] = []
    buttons: list[tuple[str, ...]] = []
    images: list[str] = []
    stack: list[Any] = [card["body"]]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[0:0] = item
        elif isinstance(item, dict):
            kind = item.get("type")
            if kind == "TextBlock":
                words.append(_teams_text(item["text"]))
            elif kind == "FactSet":
                words += [_teams_text(f"{fact['title']} {fact['value']}") for fact in item["facts"]]
            elif kind == "Action.Execute":
                buttons.append((item["verb"], item["data"]["value"], item["title"]))
                continue  # its fallback is the same button
            elif kind == "Action.OpenUrl":
                buttons.append((item["title"], item["url"]))
            elif kind == "Image":
                images.append(item["url"])
            stack[0:0] = [value for value in item.values() if isinstance(value, list | dict)]
    return "\n".join(words), buttons, images


def _teams_text(markdown: str) -> str:
    shown = re.sub(r"\[((?:\\.|[^\]\\])*)\]\([^)]*\)", r"\1", markdown)  # [label](url)
    shown = shown.replace("**", "")
    shown = re.sub(r"<at>(.*?)</at>", r"\1", shown)
    shown = re.sub(r"\\(.)", r"\1", shown)  # backslash escapes
    return shown.replace("\n\n", "\n")


@pytest.mark.parametrize("case", sorted(CASES))
def test_slack_and_teams_show_the_same_facts(case: str) -> None:
    kind, payload, facts = CASES[case]
    message = message_for(kind, payload)
    assert isinstance(message, Message)

    slack_text, slack_blocks = render_slack(message)
    teams_summary, card = render_teams(message)
    slack_words, slack_buttons, slack_images = slack_reading(slack_blocks)
    teams_words, teams_buttons, teams_images = teams_reading(card)

    for fact in facts:
        assert fact in slack_words, fact
        assert fact in teams_words, fact
    assert teams_buttons == slack_buttons
    assert teams_images == slack_images
    assert html.unescape(re.sub(r"<([^<>|]+)\|([^<>]*)>", r"\2", slack_text)) == teams_summary
    if kind != "leaderboard":
        assert slack_buttons, "a live post has buttons"


def test_a_post_shared_from_a_nudge_has_lost_that_share_button_on_both() -> None:
    """The member's reminder kept true: no Share on LinkedIn for the post they shared there, in either."""
    message = message_for(*CASES["shared nudge"][:2])
    assert isinstance(message, Message)
    for buttons in (slack_reading(render_slack(message)[1])[1], teams_reading(render_teams(message)[1])[1]):
        assert [button[:2] for button in buttons] == [
            ("share_x", "7"),
            ("edit_share", "7"),
            ("share_x", "8"),
            ("edit_share", "8"),
            ("not_for_me", "8"),
        ]
