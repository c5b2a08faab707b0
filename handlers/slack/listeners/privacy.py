"""Privacy in Slack: the buttons of `/relais forget-me` (erase my data, cancel)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import erasure
from bot.messages import Message
from handlers.slack.deps import relais
from handlers.slack.identity import who_sent
from handlers.slack.render import render
from handlers.slack.surface import SlackSurface


async def handle_forget_me_confirm(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """The Erase my data button: the member erased is whoever Slack's signed request says clicked; the button
    carries only the answer's language."""
    await ack()
    core = relais(context)
    answer = await erasure.confirm(
        core, who_sent(body), str(action.get("value") or ""), files=SlackSurface(client)
    )
    await _answer(body, respond, client, answer)


async def handle_forget_me_cancel(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    answer = erasure.cancel(relais(context), who_sent(body), str(action.get("value") or ""))
    await _answer(body, respond, client, answer)


async def _answer(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, message: Message
) -> None:
    """In place of the question (its buttons go: a click is answered once), only for the clicker."""
    text, blocks = render(message)
    if body.get("response_url"):
        await respond(text=text, blocks=blocks or None, response_type="ephemeral", replace_original=True)
    else:
        await client.chat_postMessage(channel=str(body["user"]["id"]), text=text, blocks=blocks or None)
