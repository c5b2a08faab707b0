"""Approve / Reject on a suggestion's review message: the core decides (`bot.flows.suggestions`); Slack
opens the queue form, says a refusal to the admin, and sends what the decision queued."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import suggestions
from bot.messages import Message
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import button_id, who_sent
from handlers.slack.outbox import drain_outbox
from handlers.slack.render import render
from handlers.slack.surface import SlackSurface


async def handle_suggestion_approve(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Approving opens the queue modal prefilled with the suggested link; the suggestion is approved
    when the admin submits it (closing the modal leaves it pending)."""
    await ack()
    suggestion_id = button_id(action)
    if suggestion_id is None:
        return
    who = who_sent(body)
    surface = SlackSurface(client, trigger_id=body.get("trigger_id"))
    said = await suggestions.approve(relais(context), surface, SlackDirectory(client), who, suggestion_id)
    await _tell(client, who.member, said)


async def handle_suggestion_reject(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    deps = relais(context)
    suggestion_id = button_id(action)
    if suggestion_id is None:
        return
    who = who_sent(body)
    said = await suggestions.reject(deps, SlackDirectory(client), who, suggestion_id)
    await _tell(client, who.member, said)
    await drain_outbox(deps, client, who.workspace)  # the closed reviews and the employee's answer


async def _tell(client: AsyncWebClient, user: str, said: Message | None) -> None:
    """A refusal, in a DM to the admin who clicked."""
    if said is not None:
        text, blocks = render(said)
        await client.chat_postMessage(channel=user, text=text, blocks=blocks or None)
