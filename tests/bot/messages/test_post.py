"""The post card and the personal share link, as neutral messages: which buttons in which state, what
each says, and typed text kept as typed text."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.messages import Actions, Image, Joined, Link, Message, Note, Quote, Section, Strong, Text
from bot.messages.post import clip, post_card, share_intent_url, share_link
from bot.services.posts import PostCard

CARD = PostCard(
    id=7,
    url="https://example.com/a",
    title="A title",
    description="A description",
    image_url="https://example.com/a.png",
    caption="Proud of this",
    networks=("linkedin", "x"),
    state="published",
)


def _actions(message: Message) -> list[Actions]:
    return [part for part in message.parts if isinstance(part, Actions)]


def _buttons(message: Message) -> list[tuple[str, str | None, str | None]]:
    [row] = _actions(message)
    return [(action.id, action.value, action.style) for action in row.items]


@pytest.mark.parametrize(
    ("networks", "expected"),
    [
        (("linkedin", "x"), [("share_linkedin", "7", "primary"), ("share_x", "7", None)]),
        (("x", "linkedin"), [("share_linkedin", "7", "primary"), ("share_x", "7", None)]),
        (("x",), [("share_x", "7", "primary")]),
        (("linkedin",), [("share_linkedin", "7", "primary")]),
        ((), []),
    ],
)
def test_a_live_post_offers_a_share_button_per_network_the_first_one_primary(
    networks: tuple[str, ...], expected: list[tuple[str, str, str | None]]
) -> None:
    message = post_card(replace(CARD, networks=networks), "en")
    assert _buttons(message) == [*expected, ("edit_share", "7", None), ("not_for_me", "7", None)]
    [row] = _actions(message)
    assert row.id == "post:7"
    assert [action.label for action in row.items][-2:] == [
        Text("en", "edit_and_share", {}),
        Text("en", "not_for_me", {}),
    ]


@pytest.mark.parametrize("state", ["cancelled", "expired"])
def test_a_withdrawn_or_expired_post_keeps_its_preview_says_so_and_has_no_buttons(state: str) -> None:
    message = post_card(replace(CARD, state=state), "fr")
    assert _actions(message) == []
    assert message.parts[-1] == Note(Text("fr", f"post_{state}_note", {}))
    assert isinstance(message.parts[0], Section)


def test_the_preview_links_the_title_shows_the_image_and_the_suggested_caption() -> None:
    message = post_card(CARD, "en")
    preview, caption = message.parts[0], message.parts[1]
    assert preview == Section(
        Joined((Strong(Link("https://example.com/a", "A title")), "A description"), "\n"),
        image=Image("https://example.com/a.png", "A title"),
    )
    assert caption == Note(Text("en", "suggested_caption", {"caption": "Proud of this"}))
    assert message.summary == Text(
        "en", "post_fallback", {"title": "A title", "url": "https://example.com/a"}
    )


def test_a_post_without_title_shows_its_address_and_nothing_it_does_not_have() -> None:
    bare = PostCard(3, "https://example.com/b", None, None, None, None, ("x",), "published")
    message = post_card(bare, "en")
    assert message.parts[0] == Section(Strong(Link("https://example.com/b", "https://example.com/b")))
    assert not any(isinstance(part, Note) for part in message.parts)


def test_long_titles_and_descriptions_are_clipped_to_200_and_500_characters_whatever_they_contain() -> None:
    """Typed text is clipped before any renderer escapes it: an `&` or `<` in it is an ordinary character
    (Slack's markup-aware clipping used to cut a long title at its last `&`)."""
    title = "Tom & Jerry <3 " + "t" * 300
    message = post_card(replace(CARD, title=title, description="d & " * 200), "en")
    preview = message.parts[0]
    assert isinstance(preview, Section)
    assert isinstance(preview.text, Joined)
    headline, description = preview.text.parts
    assert headline == Strong(Link(CARD.url, title[:199] + "…"))
    assert isinstance(description, str)
    assert len(description) <= 500
    assert description.endswith("…")
    assert description.startswith("d & d & ")
    assert preview.image == Image(str(CARD.image_url), title)  # the alt text: the renderer's limits apply


def test_clip_keeps_short_text_and_marks_what_it_cut() -> None:
    assert clip("short", 10) == "short"
    assert clip("a" * 11, 10) == "a" * 9 + "…"
    assert clip("word     and more", 10) == "word…"


def test_the_share_link_quotes_the_caption_and_opens_the_network() -> None:
    message = share_link(
        network="linkedin", post_id=7, link="https://relais.example/r/abc", caption="Mine", lang="fr"
    )
    name = Text("fr", "network_linkedin", {})
    assert message.parts[0] == Section(
        Joined((Text("fr", "share_link_intro", {"network": name}), Quote("Mine")), "\n")
    )
    [row] = _actions(message)
    [open_button] = row.items
    assert (row.id, open_button.id, open_button.value, open_button.style) == (
        "share:7:linkedin",
        "open_share_linkedin",
        "7:linkedin",
        "primary",
    )
    assert open_button.url == share_intent_url(
        "linkedin", link="https://relais.example/r/abc", caption="Mine"
    )
    assert message.summary == Text(
        "fr", "share_link_fallback", {"network": name, "link": "https://relais.example/r/abc"}
    )
    assert len(message.parts) == 2  # not connectable: no Connect button


def test_without_caption_the_share_link_asks_for_a_personal_line_and_offers_to_connect() -> None:
    message = share_link(
        network="x", post_id=7, link="https://r/x", caption=None, lang="en", connectable=True
    )
    assert message.parts[0] == Section(
        Text("en", "share_link_no_caption", {"network": Text("en", "network_x", {})})
    )
    hint = message.parts[-1]
    assert isinstance(hint, Section)
    assert hint.action is not None
    assert (hint.action.id, hint.action.value) == ("connect_x", "x")
    assert hint.action.label == Text("en", "connect_network", {"network": Text("en", "network_x", {})})


def test_the_intent_urls() -> None:
    linkedin = share_intent_url("linkedin", link="https://r/a", caption="ignored")
    assert parse_qs(urlsplit(linkedin).query) == {"url": ["https://r/a"]}
    x = share_intent_url("x", link="https://r/a", caption="Hello & bye")
    assert parse_qs(urlsplit(x).query) == {"text": ["Hello & bye"], "url": ["https://r/a"]}
    too_long = share_intent_url("x", link="https://r/a", caption="é" * 1000)
    assert parse_qs(urlsplit(too_long).query) == {"url": ["https://r/a"]}  # the caption stays to copy


@pytest.mark.parametrize(
    ("shared", "marks", "buttons"),
    [
        ({"linkedin"}, ["linkedin"], [("share_x", "7", "primary"), ("edit_share", "7", None)]),
        ({"x"}, ["x"], [("share_linkedin", "7", "primary"), ("edit_share", "7", None)]),
        ({"x", "linkedin"}, ["linkedin", "x"], []),
    ],
)
def test_a_post_shared_by_the_member_says_so_in_place_of_its_buttons(
    shared: set[str], marks: list[str], buttons: list[tuple[str, str, str | None]]
) -> None:
    """Their reminder kept true: each network shared is a "✓ Shared on …" note instead of its button; Edit
    & share stays while a network is left; Not for me goes (they shared it); all shared, no buttons."""
    message = post_card(CARD, "fr", shared=frozenset(shared))
    notes = [part.text for part in message.parts if isinstance(part, Note)]
    expected = Joined(
        tuple(Text("fr", "post_shared_on", {"network": Text("fr", f"network_{n}", {})}) for n in marks), "\n"
    )
    assert notes[-1] == expected
    assert (_buttons(message) if buttons else _actions(message)) == buttons


def test_a_post_the_member_said_was_not_for_them_says_so_without_buttons() -> None:
    message = post_card(CARD, "en", dismissed=True)
    assert message.parts[-1] == Note(Text("en", "not_for_me_noted", {}))
    assert _actions(message) == []
