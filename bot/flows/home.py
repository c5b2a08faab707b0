"""A member's home, whatever the chat platform: the data behind it (their figures, networks,
preferences and the latest posts), as neutral parts (`bot.messages.home`)."""

from __future__ import annotations

from bot.core import Relais
from bot.flows.caller import Caller
from bot.flows.connections import member_connections
from bot.messages.home import HomeData, home
from bot.messages.model import Part
from bot.services import posts as post_service
from bot.services import scores


async def home_data(core: Relais, caller: Caller) -> HomeData:
    """What the member's home shows, read in one short session. The workspace's posts only to someone
    its directory knows as an active person: an id it does not know (a request naming another
    workspace's member), a deactivated account, or someone never looked up (their first look-up failed:
    a new row is active by default, before the directory said anything) sees their own figures, not
    what the workspace shares."""
    now = core.clock.now()
    workspace, member = caller.workspace, caller.member
    known = member.active and member.admin_checked_at is not None
    async with core.sessions() as session:
        stats = await scores.member_stats(session, workspace_id=workspace.id, member_id=member.id, now=now)
        cards = (
            await post_service.latest_cards(session, workspace_id=workspace.id, member_id=member.id)
            if known
            else []
        )
        await session.commit()
    paused = member.paused_until if member.paused_until and member.paused_until > now else None
    return HomeData(
        lang=caller.lang,
        stats=stats,
        nudges_on=not member.opted_out,
        paused_until=paused.date().isoformat() if paused else None,
        connections=await member_connections(core, member.id),
        posts=tuple(cards),
    )


async def home_parts(core: Relais, caller: Caller) -> tuple[Part, ...]:
    return home(await home_data(core, caller))
