"""The last pass over every message Relais sends to Slack: it is made to fit Slack's limits.

Builders compose freely; this pass guarantees what Slack checks on the whole message, which no single
builder can know: at most 50 blocks (100 in a view), per-field lengths, one `primary` button per actions
block, and the total size of the blocks. Slack refuses a message whose blocks hold more than roughly
12,000 characters of text with `msg_blocks_too_long` (undocumented): no retry fixes that, so a nudge with
three long captions used to be lost. Here the longest texts are shortened first (each to the same
ceiling), so short lines, titles and buttons stay whole.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Final

from bot.messages.budget import length_ceiling
from handlers.slack.blocks import Blocks, clip

MESSAGE_MAX_BLOCKS: Final = 50
VIEW_MAX_BLOCKS: Final = 100
# Slack's total is "roughly 12,000 characters" of text in the blocks; keep a margin under it.
MAX_BLOCKS_TEXT: Final = 11_000
MAX_FALLBACK_TEXT: Final = 4_000  # Slack shows at most ~4,000 characters of `text`; 40,000 is refused
SECTION_TEXT: Final = 3_000
FIELD_TEXT: Final = 2_000
MAX_FIELDS: Final = 10
HEADER_TEXT: Final = 150
CONTEXT_ELEMENTS: Final = 10
ACTIONS_ELEMENTS: Final = 25
BUTTON_TEXT: Final = 75
ALT_TEXT: Final = 2_000


def text_objects(blocks: Blocks) -> Iterator[dict[str, Any]]:
    """Every text object (`{"type": "mrkdwn"|"plain_text", "text": …}`) in `blocks`, at any depth."""
    stack: list[Any] = [blocks]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") in ("mrkdwn", "plain_text") and isinstance(item.get("text"), str):
                yield item
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(reversed(item))


def blocks_text_length(blocks: Blocks) -> int:
    """What Slack's total limit counts: the characters of every text in the blocks."""
    return sum(len(obj["text"]) for obj in text_objects(blocks))


def fit_message(text: str, blocks: Blocks | None) -> tuple[str, Blocks | None]:
    """A copy of a message (`text` fallback and `blocks`) that Slack accepts."""
    fitted = None if blocks is None else fit_blocks(blocks, max_blocks=MESSAGE_MAX_BLOCKS)
    return clip(text, MAX_FALLBACK_TEXT), fitted


def fit_view(view: dict[str, Any]) -> dict[str, Any]:
    """A copy of a modal or Home tab view with its blocks fitted (100 blocks)."""
    fitted = dict(view)
    if isinstance(view.get("blocks"), list):
        fitted["blocks"] = fit_blocks(view["blocks"], max_blocks=VIEW_MAX_BLOCKS)
    return fitted


def fit_blocks(blocks: Blocks, *, max_blocks: int = MESSAGE_MAX_BLOCKS) -> Blocks:
    fitted: Blocks = copy.deepcopy(blocks[:max_blocks])
    for block in fitted:
        _fit_block(block)
    _fit_total(fitted, MAX_BLOCKS_TEXT)
    return fitted


def _fit_block(block: dict[str, Any]) -> None:
    kind = block.get("type")
    if kind == "section":
        _clip(block.get("text"), SECTION_TEXT)
        if isinstance(block.get("fields"), list):
            block["fields"] = block["fields"][:MAX_FIELDS]
            for item in block["fields"]:
                _clip(item, FIELD_TEXT)
        _fit_element(block.get("accessory"))
    elif kind == "header":
        _clip(block.get("text"), HEADER_TEXT)
    elif kind == "context" and isinstance(block.get("elements"), list):
        block["elements"] = block["elements"][:CONTEXT_ELEMENTS]
        for element in block["elements"]:
            if isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
                _clip(element, SECTION_TEXT)
            elif isinstance(element, dict) and element.get("type") == "image":
                _clip_alt(element)
    elif kind == "actions" and isinstance(block.get("elements"), list):
        block["elements"] = block["elements"][:ACTIONS_ELEMENTS]
        primary_seen = False
        for element in block["elements"]:
            _fit_element(element)
            if isinstance(element, dict) and element.get("style") == "primary":
                if primary_seen:  # Slack's guideline: one primary button per actions block
                    del element["style"]
                primary_seen = True
    elif kind == "image":
        _clip_alt(block)


def _fit_element(element: Any) -> None:
    if not isinstance(element, dict):
        return
    if element.get("type") == "button":
        _clip(element.get("text"), BUTTON_TEXT)
    elif element.get("type") == "image":
        _clip_alt(element)


def _clip(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = clip(obj["text"], limit)


def _clip_alt(obj: dict[str, Any]) -> None:
    if isinstance(obj.get("alt_text"), str):
        obj["alt_text"] = clip(obj["alt_text"], ALT_TEXT)


def _fit_total(blocks: Blocks, budget: int) -> None:
    """Shorten the longest texts to one common ceiling until the total fits `budget`."""
    objects = list(text_objects(blocks))
    lengths = sorted((len(obj["text"]) for obj in objects), reverse=True)
    total = sum(lengths)
    if total <= budget:
        return
    ceiling = length_ceiling(lengths, budget)
    for obj in objects:
        if len(obj["text"]) > ceiling:
            obj["text"] = clip(obj["text"], ceiling)
