"""Telling only the member who clicked, in Slack: the core's answers as Block Kit, ephemerally or by
direct message, a flow's `early` (the click acknowledged, then the member told), and the listener of a
button whose answer comes after the ack (`answers_click`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.flows.caller import Caller, Early
from bot.messages import Message
from handlers.slack.blocks import Blocks
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import who_sent
from handlers.slack.render import render


async def tell(
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    text: str,
    blocks: Blocks | None = None,
    *,
    in_place: bool = False,
) -> None:
    """Answer only the clicking member: ephemerally where the click came from a message (`in_place`:
    instead of that message, whose buttons then go), by DM where it came from the App Home (which has
    no response_url)."""
    if body.get("response_url"):
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=in_place)
    else:
        await client.chat_postMessage(channel=str(body["user"]["id"]), text=text, blocks=blocks)


async def tell_message(
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    message: Message,
    *,
    in_place: bool = False,
) -> None:
    """`tell` the core's message, as Block Kit."""
    await tell(body, respond, client, *_slack(render(message)), in_place=in_place)


@dataclass(frozen=True)
class Click:
    """A button click as the work behind its answer sees it (`answers_click`)."""

    core: Relais
    body: dict[str, Any]
    action: dict[str, Any]
    client: AsyncWebClient

    @property
    def who(self) -> Who:
        """Whoever Slack's signed request says clicked."""
        return who_sent(self.body)

    @property
    def value(self) -> str:
        return str(self.action.get("value") or "")

    async def caller(self, *, refresh: bool = True) -> Caller:
        """The clicking member, as the core's one look-up finds them (`bot.flows.acting.caller`)."""
        return await acting.caller(self.core, SlackDirectory(self.client), self.who, refresh=refresh)


Work = Callable[[Click], Awaitable[Message]]


def answers_click(
    work: Work, *, in_place: bool = False, then: Callable[[Click], Awaitable[None]] | None = None
) -> Callable[..., Awaitable[None]]:
    """The listener of a button whose answer comes after the ack: the click is acknowledged, `work`
    answers it, only the clicker is told (`in_place`: instead of the message clicked), and `then` runs
    last. Bolt reads the listener's parameters by name; they are written here once."""

    async def handle(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        click = Click(relais(context), body, action, client)
        await tell_message(body, respond, client, await work(click), in_place=in_place)
        if then is not None:
            await then(click)

    handle.__doc__ = work.__doc__
    return handle


def early_teller(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> Early:
    """What a flow says before it is done (`early`): the click is acknowledged, then the member told."""

    async def say(message: Message) -> None:
        await ack()
        await tell_message(body, respond, client, message)

    return say


def _slack(rendered: tuple[str, Blocks]) -> tuple[str, Blocks | None]:
    """A one-line answer goes without blocks, as it always did."""
    text, blocks = rendered
    return text, blocks or None
