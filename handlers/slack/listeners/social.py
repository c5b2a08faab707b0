"""Connected accounts in Slack: Connect / Disconnect buttons, Undo and "post it again" on API shares."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import connections
from bot.messages import Message
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.home import publish_home
from handlers.slack.identity import button_id, who_sent
from handlers.slack.social import Click, answers_click, early_teller, tell_message


async def handle_link_button(ack: AsyncAck) -> None:
    """A URL button (open the connect page, view a post): the browser does the work; Slack still
    expects the click acknowledged."""
    await ack()


async def _connect(click: Click) -> Message:
    """Connect / Reconnect: a fresh personal link (links are single-use and short-lived, so a button
    issues one when it is clicked rather than when its message was drawn)."""
    caller = await click.caller()
    network = connections.NETWORK_OF_ACTION[click.action["action_id"]]
    return await connections.connect(click.core, caller.member, network, caller.lang)


async def _disconnect(click: Click) -> Message:
    caller = await click.caller()
    network = connections.NETWORK_OF_ACTION[click.action["action_id"]]
    return await connections.disconnect(click.core, caller.member, network, caller.lang)


async def _redraw_home(click: Click) -> None:
    """Clicked in the App Home (no response_url): the Home is drawn again."""
    if not click.body.get("response_url"):
        await publish_home(click.core, click.client, team_id=click.who.workspace, user_id=click.who.member)


async def _undo(click: Click) -> Message:
    """Undo an API share: delete the post on the network; only its author can."""
    caller = await click.caller(refresh=False)
    return await connections.undo(click.core, caller.member, button_id(click.action), caller.lang)


handle_connect = answers_click(_connect)
handle_disconnect = answers_click(_disconnect, then=_redraw_home)
handle_undo = answers_click(_undo)


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
