"""The App Home tab: my stats, my networks, my preferences and the latest posts with share buttons."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.posts import PostCard
from bot.services.scores import MemberStats
from handlers.slack.blocks import Blocks, button, context, section
from handlers.slack.blocks.post import build_post_message
from handlers.slack.blocks.social import Connection, connection_blocks
from handlers.slack.text import t


@dataclass(frozen=True)
class HomeData:
    lang: str
    stats: MemberStats
    nudges_on: bool
    paused_until: str | None
    connections: tuple[Connection, ...]
    posts: tuple[PostCard, ...]


def build_home(data: HomeData) -> dict[str, object]:
    lang = data.lang
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": t(lang, "home_title")}},
        section(
            t(
                lang,
                "me_summary",
                week=data.stats.shares_week,
                total=data.stats.shares_total,
                clicks=data.stats.clicks,
                points=data.stats.points,
            )
        ),
        context(
            t(lang, "me_rank", rank=data.stats.rank, participants=data.stats.participants)
            if data.stats.rank is not None
            else t(lang, "me_no_rank")
        ),
        {"type": "divider"},
        section(t(lang, "home_networks_title")),
    ]
    blocks += connection_blocks(data.connections, lang)
    if data.paused_until is not None:
        nudges = t(lang, "home_nudges_paused", date=data.paused_until)
    else:
        nudges = t(lang, "home_nudges_on" if data.nudges_on else "home_nudges_off")
    blocks += [
        {"type": "divider"},
        section(t(lang, "home_preferences_title") + "\n" + nudges),
        {
            "type": "actions",
            "block_id": "home_preferences",
            "elements": [
                button(
                    t(lang, "home_turn_nudges_off" if data.nudges_on else "home_turn_nudges_on"),
                    "home_nudges_off" if data.nudges_on else "home_nudges_on",
                ),
                button("English", "home_lang_en", value="en", style="primary" if lang == "en" else None),
                button("Français", "home_lang_fr", value="fr", style="primary" if lang == "fr" else None),
            ],
        },
        {"type": "divider"},
        section(t(lang, "home_latest_title")),
    ]
    if not data.posts:
        blocks.append(context(t(lang, "home_no_posts")))
    for card in data.posts:
        blocks += build_post_message(card, lang)[1]
    return {"type": "home", "blocks": blocks[:100]}
