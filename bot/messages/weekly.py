"""The week's messages: the nudge (a few posts a member has not shared yet, and one tip), the channel's
leaderboard and each participant's private rank. Each is built from its outbox payload (what
`bot.services.weekly` stores)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.messages.model import (
    Divider,
    Heading,
    Inline,
    Joined,
    Link,
    Mention,
    Message,
    Note,
    Part,
    Section,
    Text,
    lines,
    text,
)
from bot.messages.post import post_card
from bot.services.erasure import is_erased_id
from bot.services.posts import PostCard

BAR_WIDTH: Final = 10
MEDALS: Final = {1: "🥇", 2: "🥈", 3: "🥉"}


def nudge(payload: Mapping[str, Any]) -> Message:
    """The reminder; once sent, edited to mark each post the member has shared since, by network, or said
    was not for them (the payload's `shared`: post id → networks, and `dismissed`: post ids;
    `bot.services.shared_marks`)."""
    lang = str(payload.get("lang", "en"))
    cards = [PostCard.from_payload(card) for card in payload["posts"]]
    shared: Mapping[str, Any] = payload.get("shared") or {}
    dismissed = {int(post_id) for post_id in payload.get("dismissed") or ()}
    intro = text(lang, "nudge_intro", count=len(cards))
    parts: list[Part] = [Section(intro)]
    for card in cards:
        parts.append(Divider())
        networks = frozenset(str(network) for network in shared.get(str(card.id)) or ())
        parts += post_card(card, lang, shared=networks, dismissed=card.id in dismissed).parts
    parts.append(Divider())
    parts.append(Note(text(lang, f"tip_{int(payload.get('tip', 1))}")))
    parts.append(Note(text(lang, "nudge_footer")))
    return Message(intro, tuple(parts))


def _name(entry: Mapping[str, Any], lang: str) -> Inline:
    """The display name: no mention unless there is no name (a leaderboard should not ping ten people
    every week). A board queued before someone erased their data names them by a placeholder
    (`bot.services.erasure`): "a former member" instead."""
    name, member = str(entry.get("name") or ""), str(entry["external_id"])
    if is_erased_id(name) or is_erased_id(member):
        return text(lang, "board_former_member")
    return name or Mention("member", member)


def bar(points: int, best: int) -> str:
    filled = max(1, round(BAR_WIDTH * points / best)) if best > 0 and points > 0 else 0
    return "▰" * filled + "▱" * (BAR_WIDTH - filled)


def leaderboard(payload: Mapping[str, Any]) -> Message:
    """The top of the week with a bar each, the biggest climbers, the week's totals and top post."""
    lang = str(payload.get("lang", "en"))
    top: list[Mapping[str, Any]] = payload["top"]
    best = int(top[0]["points"]) if top else 0
    board = Joined(
        tuple(
            text(
                lang,
                "board_line",
                medal=MEDALS.get(int(entry["rank"]), f"{entry['rank']}."),
                name=_name(entry, lang),
                bar=bar(int(entry["points"]), best),
                points=int(entry["points"]),
            )
            for entry in top
        ),
        "\n",
    )
    title = text(lang, "board_title", week=str(payload["week"]))
    parts: list[Part] = [Heading(title), Section(board)]
    climbers = payload.get("climbers") or []
    if climbers:
        names = Joined(
            tuple(
                text(
                    lang,
                    "board_climber",
                    name=_name(entry, lang),
                    places=int(entry["previous_rank"]) - int(entry["rank"]),
                )
                for entry in climbers
            ),
            ", ",
        )
        parts.append(Section(text(lang, "board_climbers", names=names)))
    totals: Inline = text(
        lang,
        "board_totals",
        shares=int(payload["shares"]),
        clicks=int(payload["clicks"]),
        people=int(payload["participants"]),
    )
    top_post = payload.get("top_post")
    if top_post:
        label = str(top_post.get("title") or top_post["url"])
        most_shared = text(
            lang, "board_top_post", post=Link(str(top_post["url"]), label), shares=int(top_post["shares"])
        )
        totals = lines(totals, most_shared)
    parts.append(Note(totals))
    parts.append(Note(text(lang, "board_footer")))
    return Message(title, tuple(parts))


def rank_change(lang: str, rank: int, previous: int | None) -> Text:
    """How a member's rank moved since last week."""
    if previous is None:
        return text(lang, "rank_new")
    if previous > rank:
        return text(lang, "rank_up", places=previous - rank)
    if previous < rank:
        return text(lang, "rank_down", places=rank - previous)
    return text(lang, "rank_same")


def rank(payload: Mapping[str, Any]) -> Message:
    """A participant's private rank, points and change since last week; a streak earns a line of its own."""
    lang = str(payload.get("lang", "en"))
    place, previous = int(payload["rank"]), payload.get("previous_rank")
    summary = text(
        lang,
        "rank_message",
        rank=place,
        participants=int(payload["participants"]),
        points=int(payload["points"]),
        shares=int(payload["shares"]),
        clicks=int(payload["clicks"]),
        change=rank_change(lang, place, None if previous is None else int(previous)),
    )
    parts: list[Part] = [Section(summary)]
    if int(payload.get("streak") or 0) > 0:
        parts.append(Note(text(lang, "rank_streak", weeks=int(payload["streak"]) + 1)))
    return Message(summary, tuple(parts))
