"""Connected accounts in Slack: Connect / Disconnect buttons, Undo and "post it again" on API shares."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import acting, connections
from bot.services.hotpath import AckDeadline, started_within
from bot.services.posting import Claim
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.home import publish_home
from handlers.slack.identity import button_id, cached_language, who_sent
from handlers.slack.social import tell, tell_message
from handlers.slack.text import t
from models import Member, Network

logger = logging.getLogger(__name__)


NETWORK_OF_ACTION = {
    "connect_linkedin": Network.LINKEDIN,
    "connect_x": Network.X,
    "disconnect_linkedin": Network.LINKEDIN,
    "disconnect_x": Network.X,
}


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
    deps = relais(context)
    caller = await acting.caller(deps, SlackDirectory(client), who_sent(body))
    answer = await connections.connect(
        deps, caller.member, NETWORK_OF_ACTION[action["action_id"]], caller.lang
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
    deps = relais(context)
    caller = await acting.caller(deps, SlackDirectory(client), who_sent(body))
    answer = await connections.disconnect(
        deps, caller.member, NETWORK_OF_ACTION[action["action_id"]], caller.lang
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
    deps = relais(context)
    caller = await acting.caller(deps, SlackDirectory(client), who_sent(body), refresh=False)
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
    """The member checked: a share whose outcome was unknown is not on their profile; post it."""
    deps = relais(context)
    share_id = button_id(action)

    async def claim_repost() -> tuple[Member, str, Claim | None]:
        caller = await acting.caller(deps, SlackDirectory(client), who_sent(body), refresh=False)
        return caller.member, caller.lang, await connections.claim_repost(deps, caller.member, share_id)

    # Claimed before the ack (a click is never resent), within what Slack waits for; a slow database
    # gets "still working" at once and the outcome when it is known.
    task, finished = await started_within(claim_repost(), AckDeadline().left())
    if not finished:
        await ack()
        await tell(body, respond, client, t(cached_language(deps, body), "still_working"))
    try:
        member, lang, claim = await task
    except Exception:
        logger.exception("reposting share %s failed", share_id)
        await ack()
        await tell(body, respond, client, t(cached_language(deps, body), "something_went_wrong"))
        return
    await ack()
    if claim is None:
        await tell(body, respond, client, t(lang, "no_longer_available"))
        return
    await tell_message(body, respond, client, await connections.share_outcome(deps, claim, member, lang))
