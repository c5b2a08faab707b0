"""Publishing a member's App Home (on app_home_opened, and after they change a preference there)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.services import members as member_service
from bot.services import posts as post_service
from bot.services import scores
from handlers.slack.blocks.home import HomeData, build_home
from handlers.slack.identity import acting_member
from handlers.slack.social import member_connections


async def publish_home(deps: Relais, client: AsyncWebClient, *, team_id: str, user_id: str) -> None:
    now = deps.clock.now()
    workspace, member = await acting_member(deps, client, team_id, user_id)
    async with deps.sessions() as session:
        lang = member_service.language_of(member)
        stats = await scores.member_stats(session, workspace_id=workspace.id, member_id=member.id, now=now)
        cards = await post_service.latest_cards(session, workspace_id=workspace.id, member_id=member.id)
        paused = member.paused_until if member.paused_until and member.paused_until > now else None
        data = HomeData(
            lang=lang,
            stats=stats,
            nudges_on=not member.opted_out,
            paused_until=paused.date().isoformat() if paused else None,
            connections=await member_connections(deps, member.id),
            posts=tuple(cards),
        )
        await session.commit()
    await client.views_publish(user_id=user_id, view=build_home(data))
