"""What only Teams can do for the core's flows (`bot.flows.caller.ChatSurface`), for one turn.

A channel is named in a Teams message by @mentioning it: the mention (`<at>General</at>`, with its id in
the activity's entities) becomes one word, `#General`, which names that channel; any other `#word`
names a channel Relais cannot find. `channel` typed alone in a team's channel names that channel (the
adapter adds it, `typed_command`). The queue form is an Adaptive Card sent in the turn, to the admin alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext

from bot.core import Relais
from bot.flows import references
from bot.flows.caller import UnknownChannel
from handlers.teams.forms import queue_form
from handlers.teams.membership import channel_name, conversation_of, tenant_of
from handlers.teams.render import Card
from handlers.teams.replies import tell_privately

PLATFORM: Final = "teams"
_MENTION = re.compile(r"<at>(.*?)</at>", re.DOTALL | re.IGNORECASE)
_UNSAFE = re.compile(r"\s+")


@dataclass(frozen=True)
class Typed:
    """A message's command: its words, each @mentioned channel as one `#Name` word, and those words'
    channel ids; `names` are the channels' names by id (to show them)."""

    text: str
    channels: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)


def typed_command(activity: Activity, *, channel: str | None) -> Typed:
    """The command in a message: the bot's own mention removed (`remove_recipient_mention`), each
    channel mention turned into a `#Name` word; in a team's `channel`, `channel` alone names it."""
    try:
        text = activity.remove_recipient_mention()
    except (TypeError, re.error):  # a mention entity without its text or name
        text = activity.text or ""
    channels: dict[str, str] = {}
    names: dict[str, str] = {}
    for mention in activity.get_mentions():
        account = mention.mentioned
        if account is None or not account.id or not mention.text or not _is_channel(account.id):
            continue
        name = account.name or _MENTION.sub(r"\1", mention.text)
        word = "#" + _UNSAFE.sub("_", name.strip()) if name.strip() else "#" + account.id
        channels[word] = account.id
        names[account.id] = name
        text = text.replace(mention.text, f" {word} ")
    if channel is not None:
        here = channel_name(activity)
        if here:
            names.setdefault(channel, here)
        words = text.split()
        if len(words) == 1 and words[0].lower() == "channel":
            word = "#" + _UNSAFE.sub("_", here) if here else "#" + channel
            channels[word] = channel
            text = f"channel {word}"
    return Typed(" ".join(text.split()), channels, names)


def _is_channel(account_id: str) -> bool:
    """A team's channel (Teams' channel conversation ids start with `19:`), not a person (`29:`)."""
    return account_id.startswith("19:")


async def channel_names(
    core: Relais, activity: Activity, channels: Collection[str], known: Mapping[str, str]
) -> dict[str, str]:
    """The names to show `channels` by: `known` (from this activity), else the ones Relais stored."""
    missing = [channel for channel in channels if channel not in known]
    tenant = tenant_of(activity)
    stored = (
        await references.conversation_names(core.sessions, platform=PLATFORM, workspace=tenant, keys=missing)
        if tenant and missing
        else {}
    )
    return {**stored, **known}


class TeamsSurface:
    platform = PLATFORM

    def __init__(
        self, core: Relais, context: TurnContext, typed: Typed, *, forms: list[Card] | None = None
    ) -> None:
        """With `forms`, a form is kept there (to answer a click with it) instead of being sent."""
        self._core = core
        self._context = context
        self._typed = typed
        self._forms = forms

    def is_channel_reference(self, word: str) -> bool:
        return word.startswith("#") and len(word) > 1

    async def resolve_channel(self, reference: str) -> str:
        """The channel a mention named in this message; `UnknownChannel` for any other `#word`."""
        found = self._typed.channels.get(reference)
        if found is None:
            raise UnknownChannel(reference)
        return found

    def typed(self, text: str) -> str:
        return text

    def for_network(self, text: str) -> str:
        """A person's mention (`<at>Ann Lee</at>`) as `@Ann Lee`."""
        return _MENTION.sub(r"@\1", text)

    async def open_queue_form(
        self,
        channels: tuple[str, ...],
        lang: str,
        *,
        url: str | None = None,
        suggestion_id: int | None = None,
    ) -> None:
        """The form, sent as a card to the admin alone: the channels chosen, and the one the command came
        from."""
        offered = list(dict.fromkeys((*channels, *self._here())))
        names = await channel_names(self._core, self._context.activity, offered, self._typed.names)
        card = queue_form(
            lang,
            channels=[(channel, names.get(channel, channel)) for channel in offered],
            chosen=channels,
            url=url,
            suggestion_id=suggestion_id,
        )
        if self._forms is not None:
            self._forms.append(card)
            return
        await tell_privately(self._context, card)

    def _here(self) -> tuple[str, ...]:
        activity = self._context.activity
        if activity.conversation is None or activity.conversation.conversation_type != "channel":
            return ()
        return (conversation_of(activity),)
