"""What the Slack listeners share about connected accounts: connect links, the connections overview,
running a claimed API share and telling the member its outcome."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.services import connections
from bot.services.posting import Claim
from handlers.slack.blocks import Blocks
from handlers.slack.blocks.social import Connection, build_connect_link, build_share_outcome
from handlers.slack.text import t
from models import Member, Network, SocialAccountStatus

logger = logging.getLogger(__name__)


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


def _zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, timezone: str | None, *, now: datetime) -> str:
    """`HH:MM` in the member's time zone (UTC when unknown), with the date when it is not today."""
    zone = _zone(timezone)
    local = moment.astimezone(zone)
    same_day = local.date() == now.astimezone(zone).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def local_date(moment: datetime, timezone: str | None) -> str:
    return moment.astimezone(_zone(timezone)).date().isoformat()


async def connect_reply(
    deps: Relais, member: Member, network: Network, lang: str
) -> tuple[str, Blocks | None]:
    """A fresh personal connect link, or why there is none."""
    name = t(lang, f"network_{network.value}")
    if network not in deps.social or deps.cipher is None:
        return t(lang, "network_not_available", network=name), None
    async with deps.sessions() as session:
        url = await connections.issue_link(
            session,
            cipher=deps.cipher,
            base_url=deps.settings.base_url,
            member=member,
            network=network,
            now=deps.clock.now(),
        )
        await session.commit()
    return build_connect_link(network=network.value, url=url, lang=lang)


async def disconnect_reply(deps: Relais, member: Member, network: Network, lang: str) -> str:
    name = t(lang, f"network_{network.value}")
    if deps.cipher is None:
        return t(lang, "was_not_connected", network=name)
    forgotten = await connections.disconnect(
        deps.sessions,
        cipher=deps.cipher,
        client=deps.social.get(network),
        member_id=member.id,
        network=network,
    )
    return t(lang, "disconnected" if forgotten else "was_not_connected", network=name)


async def member_connections(deps: Relais, member_id: int) -> tuple[Connection, ...]:
    async with deps.sessions() as session:
        accounts = await connections.connected_networks(session, member_id=member_id)
    result = []
    for network in Network:
        account = accounts.get(network)
        client = deps.social.get(network)
        connected = account is not None and account.status is SocialAccountStatus.CONNECTED
        until = None
        if connected and account is not None and client is not None and not client.can_refresh:
            until = account.expires_at.date().isoformat() if account.expires_at else None
        result.append(Connection(network.value, client is not None, connected, until))
    return tuple(result)


async def share_outcome(deps: Relais, claim: Claim, member: Member | None, lang: str) -> tuple[str, Blocks]:
    """Run the API post a click claimed and describe the outcome; or describe the share the click found."""
    if claim.job_id is None:
        return build_share_outcome(claim.share, lang, fresh=False)
    try:
        view = await deps.poster.run_now(claim.job_id)
    except Exception:
        # The claim is committed: the clock runs the post (or, if it was under way, asks the member to
        # check) and tells the member by direct message.
        logger.exception("running API share %s failed", claim.share.share_id)
        view = None
    if view is None:  # the clock takes it (or took it first) and tells the member
        view = claim.share
    timezone = member.timezone if member is not None else None
    retry_time = local_time(view.retry_at, timezone, now=deps.clock.now()) if view.retry_at else None
    return build_share_outcome(view, lang, retry_time=retry_time)
