"""The last pass over every card Relais sends to Teams: it is made to fit Relais's size budget.

Teams refuses a message over about 100 KB (its JSON counted in UTF-16) with 413 `MessageSizeTooBig`,
and no retry fixes that: a nudge with three long captions would be lost. Each whole activity is kept
under `MAX_ACTIVITY_BYTES` (80,000): its card gets what is left once the summary (which Teams sends
beside the card, and which the card repeats as its fallback text) and the envelope (`ENVELOPE_BYTES`: who
sends it where) are counted (`card_budget`). As for Slack (`handlers/slack/blocks/fit.py`), the longest
texts are shortened first, each to the same ceiling, so short lines, titles and buttons stay whole; a
text is never cut inside its markup (`handlers.teams.text.clip`). A mention whose text was cut away
leaves the card's `msteams.entities`. A form (`inputs`) may also have what its fields show again cut,
when its texts alone cannot make it fit (only input made of characters JSON escapes at length can need
it: the fields' own limits keep the rest well within).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator
from typing import Any, Final

from bot.messages.budget import length_ceiling
from handlers.teams.text import clip

MAX_ACTIVITY_BYTES: Final = 80_000
# Room for the activity around a card: type, ids, `from`, `recipient`, `conversation` (Teams' ids run to
# a few hundred characters), `serviceUrl`, `replyToId`, `channelData`, the attachment's wrapper.
ENVELOPE_BYTES: Final = 4_000
MAX_CARD_BYTES: Final = MAX_ACTIVITY_BYTES - ENVELOPE_BYTES  # a card sent without a summary
# What Teams refuses (413): about 100 KB, UTF-16 ("Format your bot messages").
MAX_MESSAGE_BYTES: Final = 100 * 1024
# A summary beside a card is at most this long (Teams shows it in notifications, a line or two).
SUMMARY_LENGTH: Final = 1000
# The fields of a card that hold long text (a TextBlock's, a fact's); buttons and alt texts are short.
TEXT_FIELDS: Final = ("text", "title", "value", "fallbackText")

Cut = Callable[[str, int], str]
QUOTES: Final = 4  # the two quotes around a string in JSON, in UTF-16


def card_budget(summary: str = "") -> int:
    """What a card may weigh in an activity that carries `summary` (at most `SUMMARY_LENGTH` of it)."""
    return MAX_CARD_BYTES - size(summary[:SUMMARY_LENGTH])


def size(document: Any) -> int:
    """How Teams counts a message or a card against its limit: its JSON's bytes in UTF-16."""
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


def fit_card(card: dict[str, Any], *, budget: int = MAX_CARD_BYTES, inputs: bool = False) -> dict[str, Any]:
    """A copy of `card` whose size is at most `budget` (or as close as shortening texts gets): its texts
    shortened first; then, for a form (`inputs`), the values its text fields show again."""
    fitted = copy.deepcopy(card)
    current = _shorten(fitted, budget, lambda: _clipped(_text_slots(fitted)))
    if inputs and current > budget:
        _shorten(fitted, budget, lambda: _sliced(_input_slots(fitted)))
    _drop_cut_mentions(fitted)
    return fitted


def _shorten(
    card: dict[str, Any], budget: int, slots_of: Callable[[], list[tuple[dict[str, Any], str, Cut]]]
) -> int:
    """Shorten the longest of `slots_of()`'s strings, each to one ceiling, until `card` fits `budget`;
    returns its size."""
    current = size(card)
    while current > budget:
        slots = slots_of()
        lengths = sorted((len(holder[key]) for holder, key, _ in slots), reverse=True)
        # Each character is at least two bytes, more when JSON escapes it (`\u0001` is six characters):
        # cut at least the excess over the bytes a character of these texts takes, and one more.
        weight = sum(size(holder[key]) - QUOTES for holder, key, _ in slots) / max(sum(lengths), 1)
        target = sum(lengths) - math.ceil((current - budget) / max(weight, 2)) - 1
        if not slots or target < 1:
            break
        ceiling = length_ceiling(lengths, target)
        for holder, key, cut in slots:
            if len(holder[key]) > ceiling:
                holder[key] = cut(holder[key], ceiling)
        shorter = size(card)
        if shorter >= current:
            break
        current = shorter
    return current


def _clipped(slots: Iterator[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str, Cut]]:
    return [(holder, key, clip) for holder, key in slots]


def _sliced(slots: Iterator[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str, Cut]]:
    """A field's value is what the person typed, no markup: cut as it is, without an ellipsis."""
    return [(holder, key, lambda value, limit: value[:limit]) for holder, key in slots]


def _input_slots(card: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every text field's value in the card's body (what a form shows again)."""
    stack: list[Any] = [card.get("body")]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            if item.get("type") == "Input.Text" and isinstance(item.get("value"), str):
                yield item, "value"
            stack.extend(value for value in item.values() if isinstance(value, list | dict))


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
