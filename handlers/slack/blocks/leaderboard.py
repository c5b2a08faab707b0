"""The weekly leaderboard in the channel, and each participant's private rank."""

from __future__ import annotations

from typing import Any

from handlers.slack.blocks import Blocks, context, escape, link, section
from handlers.slack.text import t

BAR_WIDTH = 10
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


def _name(entry: dict[str, Any]) -> str:
    """The display name (no @-mention: a leaderboard should not ping ten people every week)."""
    return escape(str(entry.get("name") or "")) or f"<@{entry['external_id']}>"


def bar(points: int, best: int) -> str:
    filled = max(1, round(BAR_WIDTH * points / best)) if best > 0 and points > 0 else 0
    return "▰" * filled + "▱" * (BAR_WIDTH - filled)


def build_leaderboard(payload: dict[str, Any]) -> tuple[str, Blocks]:
    lang = str(payload.get("lang", "en"))
    top: list[dict[str, Any]] = payload["top"]
    best = int(top[0]["points"]) if top else 0
    lines = [
        f"{MEDALS.get(int(e['rank']), str(e['rank']) + '.')} {_name(e)}  `{bar(int(e['points']), best)}`  "
        + t(lang, "board_points", points=e["points"])
        for e in top
    ]
    title = t(lang, "board_title", week=payload["week"])
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        section("\n".join(lines)),
    ]
    climbers = payload.get("climbers") or []
    if climbers:
        names = ", ".join(
            t(lang, "board_climber", name=_name(e), places=int(e["previous_rank"]) - int(e["rank"]))
            for e in climbers
        )
        blocks.append(section(t(lang, "board_climbers", names=names)))
    totals = t(
        lang,
        "board_totals",
        shares=payload["shares"],
        clicks=payload["clicks"],
        people=payload["participants"],
    )
    top_post = payload.get("top_post")
    if top_post:
        label = str(top_post.get("title") or top_post["url"])
        totals += "\n" + t(
            lang, "board_top_post", post=link(str(top_post["url"]), label), shares=top_post["shares"]
        )
    blocks.append(context(totals))
    blocks.append(context(t(lang, "board_footer")))
    return title, blocks


def build_rank(payload: dict[str, Any]) -> tuple[str, Blocks]:
    lang = str(payload.get("lang", "en"))
    rank, previous = int(payload["rank"]), payload.get("previous_rank")
    if previous is None:
        change = t(lang, "rank_new")
    elif int(previous) > rank:
        change = t(lang, "rank_up", places=int(previous) - rank)
    elif int(previous) < rank:
        change = t(lang, "rank_down", places=rank - int(previous))
    else:
        change = t(lang, "rank_same")
    text = t(
        lang,
        "rank_message",
        rank=rank,
        participants=payload["participants"],
        points=payload["points"],
        shares=payload["shares"],
        clicks=payload["clicks"],
        change=change,
    )
    blocks: Blocks = [section(text)]
    if int(payload.get("streak") or 0) > 0:
        blocks.append(context(t(lang, "rank_streak", weeks=int(payload["streak"]) + 1)))
    return text, blocks
