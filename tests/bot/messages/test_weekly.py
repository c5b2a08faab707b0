"""The week's messages as neutral messages: the leaderboard (names, never a mention unless there is no
name; bars; climbers; totals), private ranks and how they changed, and the nudge."""

from __future__ import annotations

from typing import Any

import pytest

from bot.messages import Actions, Divider, Heading, Joined, Link, Mention, Note, Section, Text
from bot.messages.weekly import bar, leaderboard, nudge, rank, rank_change
from bot.services.posts import PostCard


def _entry(rank: int, points: int, name: str | None, previous: int | None = None) -> dict[str, Any]:
    return {
        "external_id": f"U{rank}",
        "name": name,
        "points": points,
        "shares": 1,
        "clicks": 2,
        "streak": 0,
        "rank": rank,
        "previous_rank": previous,
    }


def test_the_leaderboard_names_people_without_pinging_them_and_draws_their_bars() -> None:
    top = [_entry(1, 30, "Ann"), _entry(2, 15, None), _entry(4, 0, "Dan", previous=9)]
    message = leaderboard(
        {
            "lang": "fr",
            "week": "2026-W48",
            "top": top,
            "climbers": [top[2]],
            "participants": 4,
            "shares": 7,
            "clicks": 1200,
            "top_post": {"title": None, "url": "https://example.com/p", "shares": 3},
        }
    )
    title = Text("fr", "board_title", {"week": "2026-W48"})
    assert message.summary == title
    heading, board, climbers, totals, footer = message.parts
    assert heading == Heading(title)
    assert isinstance(board, Section)
    assert isinstance(board.text, Joined)
    lines = board.text.parts
    assert lines[0] == Text("fr", "board_line", {"medal": "🥇", "name": "Ann", "bar": "▰" * 10, "points": 30})
    assert lines[1] == Text(
        "fr",
        "board_line",
        {"medal": "🥈", "name": Mention("member", "U2"), "bar": "▰" * 5 + "▱" * 5, "points": 15},
    )
    assert lines[2] == Text("fr", "board_line", {"medal": "4.", "name": "Dan", "bar": "▱" * 10, "points": 0})
    assert climbers == Section(
        Text(
            "fr",
            "board_climbers",
            {"names": Joined((Text("fr", "board_climber", {"name": "Dan", "places": 5}),), ", ")},
        )
    )
    assert totals == Note(
        Joined(
            (
                Text("fr", "board_totals", {"shares": 7, "clicks": 1200, "people": 4}),
                Text(
                    "fr",
                    "board_top_post",
                    {"post": Link("https://example.com/p", "https://example.com/p"), "shares": 3},
                ),
            ),
            "\n",
        )
    )
    assert footer == Note(Text("fr", "board_footer", {}))


def test_an_empty_week_has_no_climbers_nor_top_post() -> None:
    message = leaderboard(
        {"week": "2026-W01", "top": [], "participants": 0, "shares": 0, "clicks": 0, "top_post": None}
    )
    assert [type(part) for part in message.parts] == [Heading, Section, Note, Note]
    assert message.parts[2] == Note(Text("en", "board_totals", {"shares": 0, "clicks": 0, "people": 0}))


@pytest.mark.parametrize(
    ("points", "best", "expected"),
    [(0, 10, 0), (1, 1000, 1), (5, 10, 5), (10, 10, 10), (3, 0, 0)],
)
def test_a_bar_shows_at_least_one_step_for_any_points(points: int, best: int, expected: int) -> None:
    assert bar(points, best) == "▰" * expected + "▱" * (10 - expected)


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (None, Text("en", "rank_new", {})),
        (5, Text("en", "rank_up", {"places": 2})),
        (1, Text("en", "rank_down", {"places": 2})),
        (3, Text("en", "rank_same", {})),
    ],
)
def test_a_rank_says_how_it_changed_since_last_week(previous: int | None, expected: Text) -> None:
    assert rank_change("en", 3, previous) == expected


def test_a_private_rank_and_its_streak() -> None:
    payload = {**_entry(3, 15, "Zoé", previous=5), "participants": 9, "streak": 2, "lang": "fr"}
    message = rank(payload)
    assert message.summary == Text(
        "fr",
        "rank_message",
        {
            "rank": 3,
            "participants": 9,
            "points": 15,
            "shares": 1,
            "clicks": 2,
            "change": Text("fr", "rank_up", {"places": 2}),
        },
    )
    assert message.parts == (Section(message.summary), Note(Text("fr", "rank_streak", {"weeks": 3})))
    assert len(rank({**payload, "streak": 0}).parts) == 1


def test_a_nudge_lists_each_post_with_its_buttons_and_one_tip() -> None:
    cards = [
        PostCard(n, f"https://example.com/{n}", f"Post {n}", None, None, None, ("linkedin",), "published")
        for n in (1, 2)
    ]
    message = nudge({"lang": "en", "posts": [card.to_payload() for card in cards], "tip": 4})
    assert message.summary == Text("en", "nudge_intro", {"count": 2})
    assert [type(part) for part in message.parts] == [
        Section, Divider, Section, Actions, Divider, Section, Actions, Divider, Note, Note,
    ]  # fmt: skip
    rows = [part for part in message.parts if isinstance(part, Actions)]
    assert [row.id for row in rows] == ["post:1", "post:2"]
    assert message.parts[-2:] == (Note(Text("en", "tip_4", {})), Note(Text("en", "nudge_footer", {})))
