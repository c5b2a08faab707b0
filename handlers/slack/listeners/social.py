"""Connected accounts in Slack: Connect / Disconnect buttons, Undo and "post it again" on API shares."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import posting
from bot.services.hotpath import AckDeadline, started_within
from bot.services.posting import Claim
from handlers.slack.blocks.social import build_share_outcome
from handlers.slack.deps import relais
from handlers.slack.home import publish_home
from handlers.slack.identity import button_id, cached_language, identify
from handlers.slack.social import connect_reply, disconnect_reply, share_outcome, tell
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
    _, member, lang, _ = await identify(deps, client, body)
    text, blocks = await connect_reply(deps, member, NETWORK_OF_ACTION[action["action_id"]], lang)
    await tell(body, respond, client, text, blocks)


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
    _, member, lang, _ = await identify(deps, client, body)
    text = await disconnect_reply(deps, member, NETWORK_OF_ACTION[action["action_id"]], lang)
    await tell(body, respond, client, text)
    if not body.get("response_url"):  # clicked in the App Home: redraw it
        await publish_home(deps, client, team_id=str(body["team"]["id"]), user_id=member.external_id)


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
    workspace, member, lang, _ = await identify(deps, client, body, refresh=False)
    share_id = button_id(action)
    view = None
    if share_id is not None:
        view = await deps.poster.undo(workspace_id=workspace.id, member_id=member.id, share_id=share_id)
    if view is None:
        await tell(body, respond, client, t(lang, "no_longer_available"))
        return
    text, blocks = build_share_outcome(view, lang, fresh=False)
    await tell(body, respond, client, text, blocks)


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
        _, member, lang, _ = await identify(deps, client, body, refresh=False)
        if share_id is None:
            return member, lang, None
        async with deps.sessions() as session:
            claim = await posting.repost(
                session,
                workspace_id=member.workspace_id,
                member_id=member.id,
                share_id=share_id,
                now=deps.clock.now(),
            )
            await session.commit()
        return member, lang, claim

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
    text, blocks = await share_outcome(deps, claim, member, lang)
    await tell(body, respond, client, text, blocks)
