"""The last pass over every card Relais sends to Teams: it is made to fit Relais's size budget.

Teams refuses a message over about 100 KB (its JSON counted in UTF-16) with 413 `MessageSizeTooBig`,
and no retry fixes that: a nudge with three long captions would be lost. Each card is kept under
80,000 bytes so the activity around it stays well inside the limit. As for Slack
(`handlers/slack/blocks/fit.py`), the longest texts are shortened first, each to the same ceiling, so
short lines, titles and buttons stay whole; a text is never cut inside its markup
(`handlers.teams.text.clip`). A mention whose text was cut away leaves the card's `msteams.entities`.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any, Final

from bot.messages.budget import length_ceiling
from handlers.teams.text import clip

MAX_CARD_BYTES: Final = 80_000
# What Teams refuses (413): about 100 KB, UTF-16 ("Format your bot messages").
MAX_MESSAGE_BYTES: Final = 100 * 1024
# The fields of a card that hold long text (a TextBlock's, a fact's); buttons and alt texts are short.
TEXT_FIELDS: Final = ("text", "title", "value", "fallbackText")


def size(document: Any) -> int:
    """How Teams counts a message or a card against its limit: its JSON's bytes in UTF-16."""
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


def fit_card(card: dict[str, Any], *, budget: int = MAX_CARD_BYTES) -> dict[str, Any]:
    """A copy of `card` whose size is at most `budget` (or as close as shortening texts gets)."""
    fitted = copy.deepcopy(card)
    current = size(fitted)
    while current > budget:
        slots = list(_text_slots(fitted))
        lengths = sorted((len(holder[key]) for holder, key in slots), reverse=True)
        # Each character is at least two bytes: cut at least the excess, halved, and one more.
        target = sum(lengths) - math.ceil((current - budget) / 2) - 1
        if not slots or target < 1:
            break
        ceiling = length_ceiling(lengths, target)
        for holder, key in slots:
            if len(holder[key]) > ceiling:
                holder[key] = clip(holder[key], ceiling)
        shorter = size(fitted)
        if shorter >= current:
            break
        current = shorter
    _drop_cut_mentions(fitted)
    return fitted


def _text_slots(card: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (object, key) of the card that holds a text to shorten: TextBlocks and facts, and the
    fallback text; never a button's title or anything inside an action."""
    if isinstance(card.get("fallbackText"), str):
        yield card, "fallbackText"
    stack: list[Any] = [card.get("body")]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            kind = item.get("type")
            if kind == "TextBlock" and isinstance(item.get("text"), str):
                yield item, "text"
            elif kind == "FactSet":
                for fact in item.get("facts") or ():
                    for key in ("title", "value"):
                        if isinstance(fact.get(key), str):
                            yield fact, key
            elif kind != "ActionSet":
                stack.extend(value for value in item.values() if isinstance(value, list | dict))


def _drop_cut_mentions(card: dict[str, Any]) -> None:
    entities = (card.get("msteams") or {}).get("entities")
    if not entities:
        return
    texts = [holder[key] for holder, key in _text_slots(card)]
    kept = [entity for entity in entities if any(entity.get("text", "") in text for text in texts)]
    if kept:
        card["msteams"]["entities"] = kept
    else:
        del card["msteams"]["entities"]
        if not card["msteams"]:
            del card["msteams"]
