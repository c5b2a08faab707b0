"""Who is acting, from any Slack payload: the workspace the action happened in, and the member."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.services import members as member_service
from bot.services.hotpath import AckDeadline, MemberRef, started_within
from bot.services.inputs import parse_id
from bot.services.members import LookupFailed, Profile
from handlers.slack.directory import SlackDirectory
from models import Member, Platform, Workspace

logger = logging.getLogger(__name__)

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
    return parse_id(head)  # the one reader of ids, typed or carried: ASCII digits, within BIGINT


async def acting_member(
    deps: Relais, client: AsyncWebClient, team_id: str, user_id: str, *, refresh: bool = True
) -> tuple[Workspace, Member]:
    """Who is acting: the workspace and member rows (created on first contact), with the profile
    refreshed from Slack when stale. The one place this look-up is written.

    No write transaction stays open across the `users.info` call: the rows are created and committed
    first, Slack is asked outside any transaction, and the answer is written in a second short one.
    With `refresh=False` (work before the ack) a stale profile is kept, and someone never looked up is
    looked up within `QUICK_LOOKUP_SECONDS` at most."""
    async with deps.sessions() as session:
        workspace = await member_service.ensure_workspace(
            session, platform=Platform.SLACK, external_id=team_id, now=deps.clock.now()
        )
        member = await member_service.ensure_member(
            session, workspace=workspace, external_id=user_id, now=deps.clock.now()
        )
        await session.commit()
    now = deps.clock.now()
    if not member_service.profile_is_fresh(member, now) and (refresh or member.admin_checked_at is None):
        profile: Profile | LookupFailed | None = member_service.LOOKUP_FAILED
        directory = SlackDirectory(client)
        if refresh:
            profile = await member_service.look_up(directory, member)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(QUICK_LOOKUP_SECONDS):
                    profile = await member_service.look_up(directory, member)
        if not isinstance(profile, LookupFailed):
            async with deps.sessions() as session:
                member = member_service.apply_profile(
                    await session.get_one(Member, member.id), profile, now=now
                )
                await session.commit()
    remember(deps, team_id, user_id, member)
    return workspace, member


async def identify(
    deps: Relais, client: AsyncWebClient, body: dict[str, Any], *, refresh: bool = True
) -> tuple[Workspace, Member, str, bool]:
    """(workspace, member, language, is admin) of whoever sent `body` (see `acting_member`)."""
    team_id, user_id = team_and_user(body)
    workspace, member = await acting_member(deps, client, team_id, user_id, refresh=refresh)
    admin = member_service.is_admin(member, admins=deps.settings.relais_admins)
    return workspace, member, member_service.language_of(member), admin


async def identify_before_ack(
    deps: Relais, client: AsyncWebClient, body: dict[str, Any], deadline: AckDeadline
) -> tuple[Workspace, Member, str, bool] | None:
    """`identify` (cached profile) within what is left before the ack; None when it failed or is still
    waiting for the database (it then finishes on its own: nothing the person sees depends on it)."""
    task, finished = await started_within(identify(deps, client, body, refresh=False), deadline.left())
    if finished and task.exception() is None:
        return task.result()
    if finished:
        logger.error("identifying who acted failed", exc_info=task.exception())
    else:
        logger.warning("identifying who acted took too long; they are asked to try again")
    return None


def cached_language(deps: Relais, body: dict[str, Any]) -> str:
    """The member's language as this process last saw it (English for someone it never saw), for
    answers that cannot wait for the database."""
    try:
        team_id, user_id = team_and_user(body)
    except (KeyError, TypeError):
        return "en"
    known = deps.cache.member(team_id, user_id)
    return known.lang if known is not None else "en"


def remember(deps: Relais, team_id: str, user_id: str, member: Member) -> None:
    """Keep the hot path's picture of this member current after their profile or language changed."""
    deps.cache.remember_member(
        team_id,
        user_id,
        MemberRef(
            member.workspace_id, member.id, member_service.language_of(member), member.admin_checked_at
        ),
    )
