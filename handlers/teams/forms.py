"""The queue form as an Adaptive Card (Teams has no modal a bot opens from a message): sent as a message
by `queue` alone, submitted with `Action.Execute` (an `Action.Submit` fallback), read back into the core's
`bot.flows.queue.QueueForm`, and sent again in place with each refusal under its field.

Its fields are the core's (`bot.flows.queue`: `url`, `caption_1`…, `networks`, `channels`, `expires_on`);
the publication moment is a date and a time, read in the admin's time zone into the core's instant.
Channels are those Relais can name here: the ones chosen already and the channel the command came from.

Each text field says how long it may be (`maxLength`: the core's limits, a link's and a caption's), and
a form sent back with its refusals shows each value again only up to that length and only the choices
offered: a forged submission cannot make the answer big. The card is then fitted to the size budget
(`handlers.teams.fit`, its fields' values included).
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
from bot.services.posts import LINKEDIN_MAX, MAX_CAPTIONS
from bot.services.preview.urls import MAX_URL_LENGTH
from handlers.teams.fit import card_budget, fit_card
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
MAX_CHANNEL_ID: Final = 255  # as the core stores a channel
# The longest caption any network takes (LinkedIn's; X's shorter one is the core's refusal to explain).
MAX_CAPTION: Final = LINKEDIN_MAX
MAX_MOMENT: Final = 32  # a date or a time shown again: "2026-11-25", "09:30"


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
    channels = [
        (channel, name[:MAX_NAME])
        for channel, name in channels
        if channel.startswith(CHANNEL_PREFIX) and len(channel) <= MAX_CHANNEL_ID
    ][:MAX_NAMES]
    body: list[Element] = [
        {"type": "TextBlock", "text": t(lang, "modal_queue_title"), "weight": "Bolder", "size": "Medium"}
    ]

    def field(element: Element, name: str) -> None:
        body.append(element)
        if name in refusals:
            body.append(
                {"type": "TextBlock", "text": markdown(refusals[name]), "color": "Attention", "wrap": True}
            )

    link = _text(values.get(queue.URL, url or ""))
    field(_input(queue.URL, t(lang, "modal_url"), link, limit=MAX_URL_LENGTH, required=True), queue.URL)
    for index in range(1, MAX_CAPTIONS + 1):
        name = queue.caption_field(index)
        label = t(lang, "modal_caption", n=index)
        element = _input(name, label, _text(values.get(name)), limit=MAX_CAPTION, multiline=True)
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
    at = {"type": "Input.Time", "id": PUBLISH_TIME, "label": " ", "value": _moment_text(values, PUBLISH_TIME)}
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
    return _fitted(
        {
            "type": "AdaptiveCard",
            "$schema": CARD_SCHEMA,
            "version": CARD_VERSION,
            "fallbackText": t(lang, "modal_queue_title"),
            "body": body,
            "actions": [submit],
        }
    )


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


def _input(
    name: str, label: str, value: str, *, limit: int, required: bool = False, multiline: bool = False
) -> Element:
    """A text field that takes at most `limit` characters, showing `value` (cut to that)."""
    element: Element = {
        "type": "Input.Text",
        "id": name,
        "label": label,
        "value": value[:limit],
        "maxLength": limit,
    }
    if required:
        element["isRequired"] = True
    if multiline:
        element["isMultiline"] = True
    return element


def _choices(name: str, label: str, choices: list[dict[str, str]], value: object) -> Element:
    """A multi-select of `choices`, those of `value` (values joined with commas) ticked: only choices it
    offers (whatever else a submission said is not shown again)."""
    offered = {choice["value"] for choice in choices}
    return {
        "type": "Input.ChoiceSet",
        "id": name,
        "label": label,
        "isMultiSelect": True,
        "style": "expanded",
        "choices": choices,
        "value": ",".join(dict.fromkeys(part for part in _split(value) if part in offered)),
    }


def _date(name: str, label: str, values: Mapping[str, Any]) -> Element:
    return {"type": "Input.Date", "id": name, "label": label, "value": _moment_text(values, name)}


def _offered(value: object, choices: Sequence[str]) -> str:
    """`value` when it is one of `choices`, else nothing."""
    return value if isinstance(value, str) and value in choices else ""


def _moment_text(values: Mapping[str, Any], name: str) -> str:
    """A date or a time submitted, shown again (as typed, the core refusing what it is not)."""
    return _text(values.get(name))[:MAX_MOMENT]


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
    label = t(lang, "modal_your_caption")
    shown = _text(values.get(CAPTION, caption or ""))
    caption_input = _input(CAPTION, label, shown, limit=MAX_CAPTION, multiline=True)
    caption_input["placeholder"] = t(lang, "modal_caption_hint")
    choices = [{"title": markdown(network_name(lang, n)), "value": n} for n in networks]
    network_input = {
        "type": "Input.ChoiceSet",
        "id": NETWORK,
        "label": t(lang, "modal_network"),
        "style": "expanded",
        "choices": choices,
        "value": _offered(values.get(NETWORK), networks) or (networks[0] if networks else ""),
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
    return _fitted(
        {
            "type": "AdaptiveCard",
            "$schema": CARD_SCHEMA,
            "version": CARD_VERSION,
            "fallbackText": t(lang, "modal_edit_title"),
            "body": body,
            "actions": [submit],
        }
    )


def _fitted(card: Card) -> Card:
    """The form within the size budget of an activity whose summary is its fallback text (how it is sent:
    `handlers.teams.replies`), or of an invoke's answer (smaller)."""
    fallback = card.get("fallbackText")
    return fit_card(card, budget=card_budget(fallback if isinstance(fallback, str) else ""), inputs=True)
