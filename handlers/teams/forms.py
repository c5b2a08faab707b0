"""The queue form as an Adaptive Card (Teams has no modal a bot opens from a message): sent as a message
by `queue` alone, submitted with `Action.Execute` (an `Action.Submit` fallback), read back into the core's
`bot.flows.queue.QueueForm`, and sent again in place with each refusal under its field.

Its fields are the core's (`bot.flows.queue`: `url`, `caption_1`…, `networks`, `channels`, `expires_on`);
the publication moment is a date and a time, read in the admin's time zone into the core's instant.
Channels are those Relais can name here: the ones chosen already and the channel the command came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, Final

from bot.flows import queue
from bot.flows.queue import QueueForm
from bot.messages import Inline
from bot.messages.post import network_name
from bot.services import members
from bot.services.inputs import parse_id
from bot.services.posts import MAX_CAPTIONS
from handlers.teams.render import CARD_SCHEMA, CARD_VERSION, Card, Element, markdown
from handlers.teams.text import t

QUEUE_VERB: Final = "queue_submit"
EDIT_VERB: Final = "edit_submit"
CAPTION: Final = "caption"
NETWORK: Final = "network"
PUBLISH_DATE: Final = "publish_date"
PUBLISH_TIME: Final = "publish_time"
CHANNEL_PREFIX: Final = "19:"  # Teams' channel conversation ids
NAMES: Final = "names"
MAX_NAMES: Final = 50
MAX_NAME: Final = 100


def queue_form(
    lang: str,
    *,
    channels: Sequence[tuple[str, str]],
    chosen: Sequence[str],
    url: str | None = None,
    suggestion_id: int | None = None,
    values: Mapping[str, Any] | None = None,
    refusals: Mapping[str, Inline] | None = None,
) -> Card:
    """The form: `channels` offered as (id, name), `chosen` ticked; `values` (what was submitted) fill
    the fields again, and each refusal shows under its field."""
    values = values or {}
    refusals = refusals or {}
    body: list[Element] = [
        {"type": "TextBlock", "text": t(lang, "modal_queue_title"), "weight": "Bolder", "size": "Medium"}
    ]

    def field(element: Element, name: str) -> None:
        body.append(element)
        if name in refusals:
            body.append(
                {"type": "TextBlock", "text": markdown(refusals[name]), "color": "Attention", "wrap": True}
            )

    field(_input(queue.URL, t(lang, "modal_url"), values.get(queue.URL, url or ""), required=True), queue.URL)
    for index in range(1, MAX_CAPTIONS + 1):
        name = queue.caption_field(index)
        element = _input(name, t(lang, "modal_caption", n=index), values.get(name, ""), multiline=True)
        if index == 1:
            element["placeholder"] = t(lang, "modal_caption_hint")
        field(element, name)
    offer = queue.form_spec(lang).networks
    networks = [{"title": markdown(choice.label), "value": choice.value} for choice in offer]
    ticked = ",".join(choice.value for choice in offer if choice.chosen)
    picked_networks = values.get(queue.NETWORKS, ticked)
    field(_choices(queue.NETWORKS, t(lang, "modal_networks"), networks, picked_networks), queue.NETWORKS)
    offered = [{"title": name, "value": channel} for channel, name in channels]
    picked_channels = values.get(queue.CHANNELS, ",".join(chosen))
    field(_choices(queue.CHANNELS, t(lang, "modal_channels"), offered, picked_channels), queue.CHANNELS)
    at = {"type": "Input.Time", "id": PUBLISH_TIME, "label": " ", "value": _text(values.get(PUBLISH_TIME))}
    when: Element = {
        "type": "ColumnSet",
        "columns": [
            {"type": "Column", "items": [_date(PUBLISH_DATE, t(lang, "modal_publish_at"), values)]},
            {"type": "Column", "items": [at]},
        ],
    }
    field(when, queue.PUBLISH_AT)
    hint = t(lang, "modal_publish_at_hint")
    body.append({"type": "TextBlock", "text": hint, "size": "Small", "isSubtle": True})
    field(_date(queue.EXPIRES_ON, t(lang, "modal_expires_on"), values), queue.EXPIRES_ON)
    # The channels' names ride with the submission, to name them in the answer and in the form sent back
    # with refusals (Teams' channel ids are not for people).
    data: dict[str, Any] = {"action": QUEUE_VERB, NAMES: dict(channels)}
    if suggestion_id is not None:
        data["suggestion_id"] = str(suggestion_id)
    title = t(lang, "modal_queue_submit")
    submit = {
        "type": "Action.Execute",
        "title": title,
        "verb": QUEUE_VERB,
        "data": data,
        "style": "positive",
        "fallback": {"type": "Action.Submit", "title": title, "data": dict(data), "style": "positive"},
    }
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": t(lang, "modal_queue_title"),
        "body": body,
        "actions": [submit],
    }


def carried_names(data: Mapping[str, Any]) -> dict[str, str]:
    """The channels' names a submitted queue form carries (to show them, nothing else: the client sent
    them)."""
    names = data.get(NAMES)
    if not isinstance(names, dict):
        return {}
    return {
        channel: name[:MAX_NAME]
        for channel, name in list(names.items())[:MAX_NAMES]
        if isinstance(channel, str) and channel.startswith(CHANNEL_PREFIX) and isinstance(name, str)
    }


def read_queue_form(data: Mapping[str, Any], timezone: str) -> QueueForm:
    """What the admin submitted, as the core reads a queue form (unchecked: the core refuses what is
    wrong). The publication date and time are read in the admin's `timezone`; a half-filled moment goes
    to the core as typed, which refuses it."""
    picked = _split(data.get(queue.CHANNELS))
    raw_suggestion = data.get("suggestion_id")
    suggestion_id = parse_id(raw_suggestion) if isinstance(raw_suggestion, str) else None
    return QueueForm(
        url=_text(data.get(queue.URL)),
        captions=tuple(_text(data.get(queue.caption_field(i))) for i in range(1, MAX_CAPTIONS + 1)),
        networks=tuple(_split(data.get(queue.NETWORKS))),
        channels=tuple(channel for channel in picked if channel.startswith(CHANNEL_PREFIX)),
        unknown_channels=tuple(channel for channel in picked if not channel.startswith(CHANNEL_PREFIX)),
        publish_at=_moment(_text(data.get(PUBLISH_DATE)), _text(data.get(PUBLISH_TIME)), timezone),
        expires_on=_text(data.get(queue.EXPIRES_ON)),
        suggestion_id=suggestion_id,
        trusted=raw_suggestion is None or suggestion_id is not None,
    )


def _moment(day: str, at: str, timezone: str) -> object:
    """Seconds since 1970 of `day` at `at` in `timezone`; None when neither is given; as typed when only
    one is, or when either is not a date or a time (the core says it is not a date)."""
    if not day and not at:
        return None
    try:
        local = datetime.combine(date.fromisoformat(day), time.fromisoformat(at))
    except ValueError:
        return f"{day} {at}".strip()
    return int(local.replace(tzinfo=members.zone_of(timezone)).timestamp())


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _split(value: object) -> list[str]:
    """A multi-select's value: the choices' values joined with commas."""
    return [part.strip() for part in _text(value).split(",") if part.strip()]


def _input(name: str, label: str, value: str, *, required: bool = False, multiline: bool = False) -> Element:
    element: Element = {"type": "Input.Text", "id": name, "label": label, "value": value}
    if required:
        element["isRequired"] = True
    if multiline:
        element["isMultiline"] = True
    return element


def _choices(name: str, label: str, choices: list[dict[str, str]], value: str) -> Element:
    return {
        "type": "Input.ChoiceSet",
        "id": name,
        "label": label,
        "isMultiSelect": True,
        "style": "expanded",
        "choices": choices,
        "value": value,
    }


def _date(name: str, label: str, values: Mapping[str, Any]) -> Element:
    return {"type": "Input.Date", "id": name, "label": label, "value": _text(values.get(name))}


def edit_form(
    lang: str,
    *,
    post_id: int,
    title: str,
    caption: str | None,
    networks: Sequence[str],
    values: Mapping[str, Any] | None = None,
    refusals: Mapping[str, Inline] | None = None,
) -> Card:
    """Edit & share: the member's caption to start from and the network to share on; the post's id goes
    back with the submission."""
    values = values or {}
    refusals = refusals or {}
    body: list[Element] = [
        {"type": "TextBlock", "text": t(lang, "modal_edit_title"), "weight": "Bolder", "size": "Medium"},
        {"type": "TextBlock", "text": markdown(title), "wrap": True, "isSubtle": True},
    ]
    caption_input = _input(CAPTION, t(lang, "modal_your_caption"), _text(values.get(CAPTION, caption or "")))
    caption_input.update(isMultiline=True, maxLength=3000, placeholder=t(lang, "modal_caption_hint"))
    choices = [{"title": markdown(network_name(lang, n)), "value": n} for n in networks]
    network_input = {
        "type": "Input.ChoiceSet",
        "id": NETWORK,
        "label": t(lang, "modal_network"),
        "style": "expanded",
        "choices": choices,
        "value": _text(values.get(NETWORK)) or (networks[0] if networks else ""),
    }
    for element, name in ((caption_input, CAPTION), (network_input, NETWORK)):
        body.append(element)
        if name in refusals:
            body.append(
                {"type": "TextBlock", "text": markdown(refusals[name]), "color": "Attention", "wrap": True}
            )
    data = {"action": EDIT_VERB, "post_id": str(post_id)}
    title_text = t(lang, "modal_edit_submit")
    submit = {
        "type": "Action.Execute",
        "title": title_text,
        "verb": EDIT_VERB,
        "data": data,
        "style": "positive",
        "fallback": {"type": "Action.Submit", "title": title_text, "data": dict(data), "style": "positive"},
    }
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": t(lang, "modal_edit_title"),
        "body": body,
        "actions": [submit],
    }
