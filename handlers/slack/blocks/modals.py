"""The two modals: queueing a post (admins) and Edit & share (everyone)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.flows import queue as fields
from bot.messages import plain_text
from bot.services.posts import MAX_CAPTIONS
from handlers.slack.blocks import Blocks, clip, context
from handlers.slack.text import COMMAND, t

QUEUE_CALLBACK = "queue_modal"
EDIT_CALLBACK = "edit_share_modal"


def _title(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, 24)}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": clip(label, 2000)},
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": clip(hint, 2000)}
    return block


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


@dataclass(frozen=True)
class QueueForm:
    """What the queue modal is prefilled with (empty, or from an approved suggestion)."""

    url: str | None = None
    channels: tuple[str, ...] = ()
    suggestion_id: int | None = None


def build_queue_modal(form: QueueForm, lang: str) -> dict[str, Any]:
    url_element: dict[str, Any] = {"type": "url_text_input", "action_id": "value"}
    if form.url:
        url_element["initial_value"] = form.url
    blocks: Blocks = [_input(fields.URL, t(lang, "modal_url"), url_element)]
    for index in range(1, MAX_CAPTIONS + 1):
        blocks.append(
            _input(
                fields.caption_field(index),
                t(lang, "modal_caption", n=index),
                {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 3000},
                optional=True,
                hint=t(lang, "modal_caption_hint") if index == 1 else None,
            )
        )
    offered = fields.form_spec(lang).networks
    networks = [_option(choice.value, plain_text(choice.label, command=COMMAND)) for choice in offered]
    ticked = [option for option, choice in zip(networks, offered, strict=True) if choice.chosen]
    checkboxes: dict[str, Any] = {"type": "checkboxes", "action_id": "value", "options": networks}
    if ticked:
        checkboxes["initial_options"] = ticked
    blocks.append(_input(fields.NETWORKS, t(lang, "modal_networks"), checkboxes))
    channels: dict[str, Any] = {
        "type": "multi_conversations_select",
        "action_id": "value",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if form.channels:
        channels["initial_conversations"] = list(form.channels)
    blocks.append(_input(fields.CHANNELS, t(lang, "modal_channels"), channels))
    blocks.append(
        _input(
            fields.PUBLISH_AT,
            t(lang, "modal_publish_at"),
            {"type": "datetimepicker", "action_id": "value"},
            optional=True,
            hint=t(lang, "modal_publish_at_hint"),
        )
    )
    blocks.append(
        _input(
            fields.EXPIRES_ON,
            t(lang, "modal_expires_on"),
            {"type": "datepicker", "action_id": "value"},
            optional=True,
        )
    )
    return {
        "type": "modal",
        "callback_id": QUEUE_CALLBACK,
        "title": _title(t(lang, "modal_queue_title")),
        "submit": {"type": "plain_text", "text": t(lang, "modal_queue_submit")},
        "close": {"type": "plain_text", "text": t(lang, "modal_cancel")},
        "private_metadata": json.dumps({"suggestion_id": form.suggestion_id}),
        "blocks": blocks,
    }


def build_edit_modal(
    *, post_id: int, title: str, caption: str | None, networks: tuple[str, ...], lang: str
) -> dict[str, Any]:
    caption_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": 3000,
    }
    if caption:
        caption_element["initial_value"] = caption
    options = [_option(network, t(lang, f"network_{network}")) for network in networks]
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "title": _title(t(lang, "modal_edit_title")),
        "submit": {"type": "plain_text", "text": t(lang, "modal_edit_submit")},
        "close": {"type": "plain_text", "text": t(lang, "modal_cancel")},
        "private_metadata": json.dumps({"post_id": post_id}),
        "blocks": [
            context(clip(title, 300)),
            _input(
                "caption", t(lang, "modal_your_caption"), caption_element, hint=t(lang, "modal_caption_hint")
            ),
            _input(
                "network",
                t(lang, "modal_network"),
                {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": options,
                    "initial_option": options[0],
                },
            ),
        ],
    }


def submitted(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The submitted state of one input block's element."""
    values: dict[str, Any] = view.get("state", {}).get("values", {}).get(block_id, {}).get("value", {})
    return values
