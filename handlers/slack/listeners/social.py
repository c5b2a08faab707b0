"""Connected accounts in Slack: Connect / Disconnect buttons, Undo and "post it again" on API shares."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import connections
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.home import publish_home
from handlers.slack.identity import button_id, caller_of, who_sent
from handlers.slack.social import early_teller, tell_message


async def handle_link_button(ack: AsyncAck) -> None:
    """A URL button (open the connect page, view a post): the browser does the work; Slack still
    expects the click acknowledged."""
    await ack()


async def handle_connect(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Connect / Reconnect: a fresh personal link (links are single-use and short-lived, so a button
    issues one when it is clicked rather than when its message was drawn)."""
    await ack()
    deps, caller = await caller_of(context, client, body)
    answer = await connections.connect(
        deps, caller.member, connections.NETWORK_OF_ACTION[action["action_id"]], caller.lang
    )
    await tell_message(body, respond, client, answer)


async def handle_disconnect(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    deps, caller = await caller_of(context, client, body)
    answer = await connections.disconnect(
        deps, caller.member, connections.NETWORK_OF_ACTION[action["action_id"]], caller.lang
    )
    await tell_message(body, respond, client, answer)
    if not body.get("response_url"):  # clicked in the App Home: redraw it
        await publish_home(deps, client, team_id=str(body["team"]["id"]), user_id=caller.member.external_id)


async def handle_undo(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Undo an API share: delete the post on the network; only its author can."""
    await ack()
    deps, caller = await caller_of(context, client, body, refresh=False)
    answer = await connections.undo(deps, caller.member, button_id(action), caller.lang)
    await tell_message(body, respond, client, answer)


async def handle_repost(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """The member checked: a share whose outcome was unknown is not on their profile; post it. Claimed
    before the ack (a click is never resent); the outcome after it."""
    deps = relais(context)
    who = who_sent(body)
    started = await connections.start_repost(
        deps, SlackDirectory(client), who, button_id(action), early_teller(ack, body, respond, client)
    )
    await ack()
    answer = await connections.repost_answer(deps, started)
    if answer is not None:
        await tell_message(body, respond, client, answer)
