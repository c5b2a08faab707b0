"""A member's home (Slack's App Home tab): their figures, their networks, their preferences and the
latest posts with their share buttons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.i18n import Language
from bot.messages.commands import my_figures
from bot.messages.connections import Connection, connection_parts
from bot.messages.model import Action, Actions, Divider, Heading, Note, Part, Section, lines, text
from bot.messages.post import post_card
from bot.services.posts import PostCard
from bot.services.scores import MemberStats

PREFERENCES_ID: Final = "home_preferences"
NUDGES_OFF_ACTION: Final = "home_nudges_off"
NUDGES_ON_ACTION: Final = "home_nudges_on"
LANGUAGE_ACTIONS: Final[dict[str, Language]] = {"home_lang_en": "en", "home_lang_fr": "fr"}
LANGUAGE_NAMES: Final[dict[Language, str]] = {"en": "English", "fr": "Français"}  # each in its own words


@dataclass(frozen=True)
class HomeData:
    lang: str
    stats: MemberStats
    nudges_on: bool
    paused_until: str | None
    connections: tuple[Connection, ...]
    posts: tuple[PostCard, ...]


def home(data: HomeData) -> tuple[Part, ...]:
    lang = data.lang
    summary, rank = my_figures(lang, data.stats)
    parts: list[Part] = [
        Heading(text(lang, "home_title")),
        Section(summary),
        Note(rank),
        Divider(),
        Section(text(lang, "home_networks_title")),
        *connection_parts(data.connections, lang),
    ]
    if data.paused_until is not None:
        nudges = text(lang, "home_nudges_paused", date=data.paused_until)
    else:
        nudges = text(lang, "home_nudges_on" if data.nudges_on else "home_nudges_off")
    toggle = Action(
        NUDGES_OFF_ACTION if data.nudges_on else NUDGES_ON_ACTION,
        text(lang, "home_turn_nudges_off" if data.nudges_on else "home_turn_nudges_on"),
    )
    languages = tuple(
        Action(action, LANGUAGE_NAMES[code], value=code, style="primary" if lang == code else None)
        for action, code in LANGUAGE_ACTIONS.items()
    )
    parts += [
        Divider(),
        Section(lines(text(lang, "home_preferences_title"), nudges)),
        Actions((toggle, *languages), id=PREFERENCES_ID),
        Divider(),
        Section(text(lang, "home_latest_title")),
    ]
    if not data.posts:
        parts.append(Note(text(lang, "home_no_posts")))
    for card in data.posts:
        parts += post_card(card, lang).parts
    return tuple(parts)
