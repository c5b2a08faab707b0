"""Who is asking, as every flow sees them, and how a flow says no."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from bot.messages.model import Message, Text
from bot.services.members import timezone_of
from models import Member, Workspace


class Refusal(Exception):
    """A catalogue key (and its parameters) to show the caller instead of doing anything."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# Say something now, before a flow is done: the platform acknowledges the click and shows the message to
# the member alone (a flow whose work outlasts what the platform waits for).
Early: TypeAlias = Callable[[Message], Awaitable[None]]

# A submitted form's refusals: why each refused field is, by the field's name; nothing was changed.
FormRefusals: TypeAlias = dict[str, Text]


class UnknownChannel(Exception):
    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference


class ChatSurface(Protocol):
    """What only the chat platform can do for a flow (each adapter implements it)."""

    platform: str

    def is_channel_reference(self, word: str) -> bool:
        """Whether a typed word names a channel (`#news`, `<#C1|news>` on Slack)."""
        ...

    async def resolve_channel(self, reference: str) -> str:
        """The channel id a typed reference names; `UnknownChannel` if none."""
        ...

    def typed(self, text: str) -> str:
        """What the person typed, as plain characters (Slack escapes `&`, `<` and `>`)."""
        ...

    def for_network(self, text: str) -> str:
        """Typed text fit for a post on a social network: the platform's mentions as `@name` / `#name`,
        its links as their address, its escapes undone."""
        ...

    async def open_queue_form(
        self,
        channels: tuple[str, ...],
        lang: str,
        *,
        url: str | None = None,
        suggestion_id: int | None = None,
    ) -> None:
        """Open the form to queue a post, with `channels` chosen already (and, to approve a suggestion,
        its link, the suggestion's id carried back with the submission)."""
        ...


@dataclass
class Caller:
    """The acting member, loaded in the flow's own session (what a flow changes on them is saved with
    it), with their language, admin right, and the channel they are in (None in a private chat)."""

    workspace: Workspace
    member: Member
    lang: str
    admin: bool
    channel: str | None = None

    @property
    def timezone(self) -> str:
        return timezone_of(self.member, self.workspace)
