"""Button clicks on a post: Share on LinkedIn / X, opening the personal share link, Not for me. Each one
acks, names who clicked, and renders the answer of the core's share flow (`bot.flows.shares`). What
follows the ack waits for its turn (`HotCache.after_ack`), so that a burst of clicks does not slow the
acks down."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import shares
from bot.messages import Message
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import button_id, who_sent
from handlers.slack.social import early_teller, tell_message


def clicked_in(body: dict[str, Any]) -> str | None:
    """The conversation of the message clicked (a post card, or the ephemeral answer under it); None
    for a click outside any conversation (the App Home). The flow keeps it only if the post was pushed
    there."""
    channel = (body.get("channel") or {}).get("id")
    return str(channel) if channel else None


async def _answer(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, message: Message | None
) -> None:
    if message is not None:
        await tell_message(body, respond, client, message)


async def handle_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Share click: an API post claimed before the ack for a member who connected the network, else the
    personal share link after it."""
    deps = relais(context)
    network = shares.NETWORK_OF_ACTION[action["action_id"]]
    post_id, who = button_id(action), who_sent(body)
    early = early_teller(ack, body, respond, client)
    started = await shares.start_share(deps, who, post_id, network, early, channel=clicked_in(body))
    await ack()
    async with deps.cache.after_ack.turn():
        answer = await shares.share_answer(deps, SlackDirectory(client), who, post_id, network, started)
        await _answer(body, respond, client, answer)


async def handle_open_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """The member opened their personal share link: the share is counted once, before the ack."""
    deps = relais(context)
    network = shares.NETWORK_OF_ACTION[action["action_id"]]
    who, early = who_sent(body), early_teller(ack, body, respond, client)
    opened = await shares.open_share(deps, who, button_id(action), network, early, channel=clicked_in(body))
    await ack()
    async with deps.cache.after_ack.turn():
        answer = await shares.opened_answer(deps, SlackDirectory(client), who, opened)
        await _answer(body, respond, client, answer)


async def handle_not_for_me(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Not for me, recorded once before the ack (a click is never resent)."""
    deps = relais(context)
    who, early = who_sent(body), early_teller(ack, body, respond, client)
    dismissed = await shares.start_not_for_me(deps, who, button_id(action), early)
    await ack()
    async with deps.cache.after_ack.turn():
        answer = await shares.not_for_me_answer(deps, SlackDirectory(client), who, dismissed)
        await _answer(body, respond, client, answer)
