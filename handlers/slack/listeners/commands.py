"""`/relais …`: ack at once, hand the typed text to the core (`bot.flows.commands`), answer ephemerally
with what it says, then send what it queued."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows.commands import run_command
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import who_sent
from handlers.slack.outbox import drain_outbox
from handlers.slack.render import render
from handlers.slack.surface import SlackSurface


async def handle_relais_command(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    deps, sender = relais(context), who_sent(command)
    reply = await run_command(
        deps,
        SlackSurface(
            client,
            trigger_id=command.get("trigger_id"),
            team_id=sender.workspace if context.is_enterprise_install else None,
        ),
        SlackDirectory(client),
        sender,
        str(command.get("text") or ""),
        channel=command.get("channel_id"),
    )
    if reply is not None:  # None: the answer was a form
        text, blocks = render(reply)
        await respond(text=text, blocks=blocks or None, response_type="ephemeral")
    await drain_outbox(deps, client, sender.workspace)
