"""Neutral messages as Adaptive Cards 1.5: the card's JSON shape, escaping, mentions, buttons, and the
size budget every card is fitted to."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.messages import (
    Action,
    Actions,
    Divider,
    Facts,
    Heading,
    Image,
    Joined,
    Link,
    Mention,
    Message,
    Note,
    Quote,
    Section,
    Strong,
    text,
)
from bot.messages.outbox import message_for
from bot.services.posts import PostCard
from handlers.teams.fit import MAX_CARD_BYTES, fit_card, size
from handlers.teams.render import ADAPTIVE_CARD, attachment, markdown, render
from handlers.teams.text import clip, escape, link

CARD = PostCard(
    7,
    "https://example.com/launch",
    "Our launch",
    "Short description",
    "https://example.com/cover.png",
    "Proud of the team!",
    ("linkedin", "x"),
    "published",
)


def post(card: PostCard = CARD, lang: str = "en") -> Message:
    message = message_for("post", {"post": card.to_payload(), "lang": lang})
    assert message is not None
    return message


def texts(node: Any) -> list[str]:
    """Every TextBlock's text and every fact's title and value, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "FactSet":
            for fact in node["facts"]:
                found += [fact["title"], fact["value"]]
        for value in node.values():
            found += texts(value)
    elif isinstance(node, list):
        for item in node:
            found += texts(item)
    return found


def test_a_post_is_an_adaptive_card_with_its_preview_caption_and_buttons() -> None:
    summary, card = render(post())

    assert summary == "Share this: Our launch https://example.com/launch"
    assert (card["type"], card["version"], card["fallbackText"]) == ("AdaptiveCard", "1.5", summary)
    preview, caption, buttons = card["body"]
    assert preview["type"] == "ColumnSet"
    words, picture = preview["columns"]
    assert words["items"] == [
        {
            "type": "TextBlock",
            "text": "**[Our launch](https://example.com/launch)**\n\nShort description",
            "wrap": True,
        }
    ]
    assert picture["items"] == [
        {"type": "Image", "url": "https://example.com/cover.png", "altText": "Our launch", "size": "Medium"}
    ]
    assert caption == {
        "type": "TextBlock",
        "text": "Suggested caption: Proud of the team!",
        "wrap": True,
        "size": "Small",
        "isSubtle": True,
    }
    assert (buttons["type"], buttons["id"]) == ("ActionSet", "post:7")
    share = buttons["actions"][0]
    data = {"action": "share_linkedin", "value": "7", "row": "post:7"}
    assert share == {
        "type": "Action.Execute",
        "title": "Share on LinkedIn",
        "verb": "share_linkedin",
        "data": data,
        "fallback": {
            "type": "Action.Submit",
            "title": "Share on LinkedIn",
            "data": data,
            "style": "positive",
        },
        "style": "positive",
    }
    assert [action["verb"] for action in buttons["actions"]] == [
        "share_linkedin",
        "share_x",
        "edit_share",
        "not_for_me",
    ]
    assert [action.get("style") for action in buttons["actions"]] == ["positive", None, None, None]
    assert attachment(card) == {"contentType": ADAPTIVE_CARD, "content": card}


def test_a_withdrawn_post_has_no_buttons() -> None:
    _, card = render(post(PostCard(7, "https://example.com/a", "A", None, None, None, ("x",), "cancelled")))

    assert "Action." not in json.dumps(card)


def test_typed_text_is_shown_as_typed_never_as_markup() -> None:
    typed = PostCard(
        7, "https://example.com/a_(1)", "*Big* news_today [draft]", None, None, None, ("x",), "published"
    )

    _, card = render(post(typed))

    assert (
        card["body"][0]["text"] == "**[\\*Big\\* news\\_today \\[draft\\]](https://example.com/a_%281%29)**"
    )
    assert card["body"][1]["actions"][0]["title"] == "Share on X"  # titles are plain text


def test_the_catalogues_markup_is_teams_markdown() -> None:
    message = message_for(
        "rank", {"rank": 2, "participants": 9, "points": 12, "shares": 3, "clicks": 4, "lang": "en"}
    )
    assert message is not None

    summary, card = render(message)

    assert "**#2**" in card["body"][0]["text"]
    assert "**12 points**" in card["body"][0]["text"]
    assert "**" not in summary
    assert "#2" in summary
    # Teams shows no code: the catalogue's `code` spans are plain text.
    assert (
        markdown(text("en", "board_line", medal="🥇", name="Ann", bar="▰▱", points=3))
        == "🥇 Ann  ▰▱  3 points"
    )


def test_a_member_with_a_known_name_is_mentioned_and_declared() -> None:
    message = Message(
        text("en", "suggestion_review", user=Mention("member", "aad-ann"), url="https://example.com/s"),
        (
            Section(
                Joined(
                    (
                        Mention("member", "aad-ann"),
                        " · ",
                        Mention("member", "aad-bob"),
                        " · ",
                        Mention("channel", "19:c@thread.tacv2"),
                    )
                )
            ),
        ),
    )

    summary, card = render(message, names={"aad-ann": "Ann Lee"})

    assert card["body"][0]["text"] == "<at>Ann Lee</at> · @aad-bob · #19:c@thread.tacv2"
    assert card["msteams"] == {
        "entities": [
            {"type": "mention", "text": "<at>Ann Lee</at>", "mentioned": {"id": "aad-ann", "name": "Ann Lee"}}
        ]
    }
    assert "Ann Lee" in summary
    assert "<at>" not in summary


def test_a_card_without_mentions_declares_none() -> None:
    _, card = render(Message("hi", (Section(Mention("member", "aad-bob")),)))

    assert "msteams" not in card
    assert card["body"][0]["text"] == "@aad-bob"


def test_parts_become_card_elements() -> None:
    message = Message(
        "Summary",
        (
            Divider(),
            Heading("Title *1*"),
            Divider(),
            Facts((("Shares", "3"), (Strong("Clicks"), "4"))),
            Image("https://example.com/i.png", "An image"),
            Note(Link("https://example.com/help", "Help")),
            Section("Words", action=Action("connect_x", "Connect X", value="x")),
            Divider(),
            Actions(
                (
                    Action("view", "View", url="https://example.com/v"),
                    Action("undo", "Undo", value="9", style="danger"),
                )
            ),
            Divider(),
        ),
    )

    _, card = render(message)

    heading, facts, image, note, words, connect, row = card["body"]
    assert heading == {
        "type": "TextBlock",
        "text": "Title \\*1\\*",
        "wrap": True,
        "style": "heading",
        "weight": "Bolder",
        "size": "Large",
    }
    assert facts == {
        "type": "FactSet",
        "facts": [{"title": "Shares", "value": "3"}, {"title": "**Clicks**", "value": "4"}],
        "separator": True,
        "spacing": "Medium",
    }
    assert image == {"type": "Image", "url": "https://example.com/i.png", "altText": "An image"}
    assert note["text"] == "[Help](https://example.com/help)"
    assert words["text"] == "Words"
    assert connect["actions"][0]["verb"] == "connect_x"
    assert connect["actions"][0]["data"] == {"action": "connect_x", "value": "x"}
    assert row["separator"] is True
    view, undo = row["actions"]
    assert view == {"type": "Action.OpenUrl", "title": "View", "url": "https://example.com/v"}
    assert (undo["style"], undo["fallback"]["style"]) == ("destructive", "destructive")


def test_lines_are_paragraphs_and_quotes_are_italic() -> None:
    message = Message("s", (Section(Joined(("one", Quote("First line\n\n  second *line*  ")), "\n")),))

    _, card = render(message)

    assert card["body"][0]["text"] == "one\n\n_First line_\n\n_second \\*line\\*_"


def test_a_message_without_parts_shows_its_summary() -> None:
    _, card = render(Message(text("en", "share_undone", network="X")))

    assert texts(card["body"]) == [markdown(text("en", "share_undone", network="X"))]


# ---------------------------------------------------------------------------------------------------------
# the size budget


def long_post(n: int) -> dict[str, Any]:
    return PostCard(
        n,
        f"https://example.com/{n}",
        "T" * 50 + f" {n}",
        "é" * 50_000,
        None,
        "c" * 40_000,
        ("linkedin",),
        "published",
    ).to_payload()


def test_a_nudge_with_huge_posts_fits_in_80_kb_with_titles_and_buttons_whole() -> None:
    message = message_for(
        "nudge", {"posts": [long_post(1), long_post(2), long_post(3)], "tip": 1, "lang": "en"}
    )
    assert message is not None
    unfitted = size({"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "é" * 150_000}]})
    assert unfitted > MAX_CARD_BYTES

    _, card = render(message)

    assert size(card) <= MAX_CARD_BYTES
    assert size(card) > MAX_CARD_BYTES * 0.9  # shortened no more than needed
    body = json.dumps(card, ensure_ascii=False)
    assert body.count('"verb": "share_linkedin"') == 3
    for n in (1, 2, 3):
        assert f"[{'T' * 50} {n}](https://example.com/{n})" in body
    assert any(block.endswith("…") for block in texts(card["body"]))


def test_a_mention_cut_away_is_no_longer_declared() -> None:
    card = {
        "type": "AdaptiveCard",
        "body": [{"type": "TextBlock", "text": "x" * 100 + " <at>Ann</at>"}],
        "msteams": {
            "entities": [{"type": "mention", "text": "<at>Ann</at>", "mentioned": {"id": "a", "name": "Ann"}}]
        },
    }

    fitted = fit_card(card, budget=size(card) - 20)

    assert fitted["body"][0]["text"].endswith("x…")
    assert "msteams" not in fitted
    assert size(fitted) <= size(card) - 20
    assert card["msteams"]  # the original is untouched


def test_a_card_within_the_budget_is_unchanged() -> None:
    _, card = render(post())

    assert fit_card(card) == card


typed = st.text(alphabet=st.characters(blacklist_characters="<>"), min_size=1, max_size=12)
pieces = st.one_of(
    typed.map(escape),
    st.builds(lambda label, url: link(escape(label), url), typed, st.just("https://e.com/a_b")),
    typed.map(lambda words: f"**{escape(words)}**"),
    st.text(alphabet="abc _", min_size=1, max_size=8).map(lambda name: f"<at>{name}</at>"),
)


@given(st.lists(pieces, min_size=1, max_size=8).map("".join), st.integers(min_value=1, max_value=80))
def test_clipping_never_breaks_markup(markdown_text: str, limit: int) -> None:
    clipped = clip(markdown_text, limit)

    assert len(clipped) <= max(limit, 1)
    if clipped == markdown_text:
        return
    assert clipped.endswith("…")
    kept = clipped[:-1]
    assert markdown_text.startswith(kept)
    assert kept.count("<at>") == kept.count("</at>")
    outside = re.sub(r"<at>.*?</at>", "", re.sub(r"\]\([^)]*\)", "]", kept))
    unescaped = re.sub(r"\\.", "", outside)
    assert unescaped.count("[") == unescaped.count("]")
    assert unescaped.count("**") % 2 == 0
    assert (len(kept) - len(kept.rstrip("\\"))) % 2 == 0
