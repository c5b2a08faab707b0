"""Who is acting, from any Slack payload: the workspace the action happened in, and the member."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.services import members as member_service
from bot.services.hotpath import MemberRef
from handlers.slack.deps import Relais
from handlers.slack.directory import SlackDirectory
from models import Member, Platform, Workspace

QUICK_LOOKUP_SECONDS = 1.5


def team_and_user(body: dict[str, Any]) -> tuple[str, str]:
    """The workspace is where the action happened (`team.id`), not the user's home team, which differs
    for people from other organisations in shared channels."""
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return str(team), str(user["id"])


def button_id(action: dict[str, Any]) -> int | None:
    """The id a button carries ("12" or "12:x"): a post or a suggestion; None for a forged or stale value."""
    head = str(action.get("value") or "").split(":", 1)[0]
    # ASCII digits only: str.isdigit() also accepts "１" or "١", which int() reads as 1.
    return int(head) if re.fullmatch(r"[1-9][0-9]{0,17}", head) else None


async def identify(
    deps: Relais, client: AsyncWebClient, body: dict[str, Any], *, refresh: bool = True
) -> tuple[Workspace, Member, str, bool]:
    """(workspace, member, language, is admin). With `refresh=False` (work before the ack, where a
    directory call could take longer than Slack waits) cached data is used, and someone never looked
    up is looked up within `QUICK_LOOKUP_SECONDS` at most."""
    team_id, user_id = team_and_user(body)
    async with deps.sessions() as session:
        workspace = await member_service.ensure_workspace(
            session, platform=Platform.SLACK, external_id=team_id
        )
        member = await member_service.ensure_member(session, workspace=workspace, external_id=user_id)
        directory = SlackDirectory(client)
        if refresh:
            await member_service.refresh_profile(session, member, directory=directory, now=deps.clock.now())
        elif member.admin_checked_at is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(QUICK_LOOKUP_SECONDS):
                    await member_service.refresh_profile(
                        session, member, directory=directory, now=deps.clock.now()
                    )
        await session.commit()
    remember(deps, team_id, user_id, member)
    admin = member_service.is_admin(member, admins=deps.settings.relais_admins)
    return workspace, member, member_service.language_of(member), admin


def remember(deps: Relais, team_id: str, user_id: str, member: Member) -> None:
    """Keep the hot path's picture of this member current after their profile or language changed."""
    deps.cache.remember_member(
        team_id,
        user_id,
        MemberRef(
            member.workspace_id, member.id, member_service.language_of(member), member.admin_checked_at
        ),
    )
