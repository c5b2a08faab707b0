"""Telling only the member who clicked, in Slack: the core's answers as Block Kit, ephemerally or by
direct message, and a flow's `early` (the click acknowledged, then the member told)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows.caller import Early
from bot.messages import Message
from handlers.slack.blocks import Blocks
from handlers.slack.render import render


async def tell(
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    text: str,
    blocks: Blocks | None = None,
) -> None:
    """Answer only the clicking member: ephemerally where the click came from a message, by DM where it
    came from the App Home (which has no response_url)."""
    if body.get("response_url"):
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    else:
        await client.chat_postMessage(channel=str(body["user"]["id"]), text=text, blocks=blocks)


async def tell_message(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, message: Message
) -> None:
    """`tell` the core's message, as Block Kit."""
    await tell(body, respond, client, *_slack(render(message)))


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
