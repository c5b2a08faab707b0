"""Who is acting, whatever the chat platform: the workspace and member rows (created on first contact),
their profile refreshed from the platform's directory when stale, their language, admin right and time
zone. The one place this look-up is written; a platform supplies only its directory (`Directory`) and
the ids its event carries (`Who`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.flows.caller import Caller, FormRefusals
from bot.messages import Text
from bot.services import members as member_service
from bot.services.hotpath import AckDeadline, MemberRef, started_within
from bot.services.members import Directory, LookupFailed, Profile
from models import Member, Workspace

logger = logging.getLogger(__name__)

QUICK_LOOKUP_SECONDS: Final = 1.5


@dataclass(frozen=True)
class Who:
    """Whoever acted, as the platform names them: its workspace (team, tenant) and user ids."""

    platform: str  # the adapter's name (`models.Platform` for those Relais ships)
    workspace: str
    member: str


def who_of(caller: Caller) -> Who:
    """The platform's ids of a caller."""
    return Who(caller.workspace.platform, caller.workspace.external_id, caller.member.external_id)


async def rows(core: Relais, session: AsyncSession, who: Who) -> tuple[Workspace, Member]:
    """The workspace and member rows in `session`, created on first contact (concurrent requests agree).
    The caller commits."""
    now = core.clock.now()
    workspace = await member_service.ensure_workspace(
        session, platform=who.platform, external_id=who.workspace, now=now
    )
    member = await member_service.ensure_member(session, workspace=workspace, external_id=who.member, now=now)
    return workspace, member


async def acting(
    core: Relais, directory: Directory, who: Who, *, refresh: bool = True
) -> tuple[Workspace, Member]:
    """The workspace and member rows (created on first contact), with the profile refreshed from the
    directory when stale.

    No write transaction stays open across the directory call: the rows are created and committed
    first, the directory is asked outside any transaction, and the answer is written in a second short
    one. With `refresh=False` (work before an ack) a stale profile is kept, and someone never looked up
    is looked up within `QUICK_LOOKUP_SECONDS` at most."""
    async with core.sessions() as session:
        workspace, member = await rows(core, session, who)
        await session.commit()
    now = core.clock.now()
    if not member_service.profile_is_fresh(member, now) and (refresh or member.admin_checked_at is None):
        profile: Profile | LookupFailed | None = member_service.LOOKUP_FAILED
        if refresh:
            profile = await member_service.look_up(directory, member)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(QUICK_LOOKUP_SECONDS):
                    profile = await member_service.look_up(directory, member)
        if not isinstance(profile, LookupFailed):
            async with core.sessions() as session:
                # Erased during the look-up: the directory's answer must not put their name back.
                if not await member_service.hold_live(
                    session, [(member.workspace_id, member.id)], to_update=True
                ):
                    return workspace, member
                member = member_service.apply_profile(
                    await session.get_one(Member, member.id), profile, now=now
                )
                await session.commit()
    remember(core, who, member)
    return workspace, member


def caller_of(core: Relais, workspace: Workspace, member: Member, *, channel: str | None = None) -> Caller:
    """The `Caller` a flow works with: the rows with their language and admin right."""
    return Caller(
        workspace=workspace,
        member=member,
        lang=member_service.language_of(member),
        admin=member_service.is_admin(
            member,
            admins=core.settings.relais_admins,
            workspace=workspace.external_id,
            enterprise=workspace.enterprise_id,
        ),
        channel=channel,
    )


async def caller(
    core: Relais, directory: Directory, who: Who, *, channel: str | None = None, refresh: bool = True
) -> Caller:
    """Who is acting (see `acting`) as a `Caller`, with rows detached from any session."""
    workspace, member = await acting(core, directory, who, refresh=refresh)
    return caller_of(core, workspace, member, channel=channel)


async def caller_in(core: Relais, session: AsyncSession, found: Caller) -> Caller:
    """`found` loaded into a flow's own session, so that what the flow changes on the member or the
    workspace is saved with the flow's commit."""
    workspace = await session.get_one(Workspace, found.workspace.id)
    member = await session.get_one(Member, found.member.id)
    return Caller(
        workspace=workspace, member=member, lang=found.lang, admin=found.admin, channel=found.channel
    )


async def caller_before_ack(
    core: Relais, directory: Directory, who: Who, deadline: AckDeadline, *, channel: str | None = None
) -> Caller | None:
    """`caller` (cached profile) within what is left before the ack; None when it failed or is still
    waiting for the database (it then finishes on its own: nothing the person sees depends on it)."""
    task, finished = await started_within(
        caller(core, directory, who, channel=channel, refresh=False), deadline.left()
    )
    if finished and task.exception() is None:
        return task.result()
    if finished:
        logger.error("identifying who acted failed", exc_info=task.exception())
    else:
        logger.warning("identifying who acted took too long; they are asked to try again")
    return None


async def form_submitter(
    core: Relais, directory: Directory, who: Who, deadline: AckDeadline, *, field: str
) -> Caller | FormRefusals:
    """Who submitted a form (`caller_before_ack`); else the form is refused under `field` with "something
    went wrong" in the language this process last saw them use (nothing was changed)."""
    found = await caller_before_ack(core, directory, who, deadline)
    if found is None:
        return {field: Text(cached_language(core, who), "something_went_wrong")}
    return found


async def member_ref(core: Relais, who: Who) -> MemberRef:
    """Who is acting as the hot path knows them: from this process's memory, else from the database
    (created on first contact, the profile left as it is)."""
    known = core.cache.member(who.platform, who.workspace, who.member)
    if known is not None:
        return known
    async with core.sessions() as session:
        _, member = await rows(core, session, who)
        await session.commit()
    return remember(core, who, member)


def cached_language(core: Relais, who: Who | None) -> str:
    """The member's language as this process last saw it (English for someone it never saw), for
    answers that cannot wait for the database."""
    known = core.cache.member(who.platform, who.workspace, who.member) if who is not None else None
    return known.lang if known is not None else "en"


def remember(core: Relais, who: Who, member: Member) -> MemberRef:
    """Keep the hot path's picture of this member current after their profile or language changed."""
    ref = MemberRef(
        member.workspace_id,
        member.id,
        member_service.language_of(member),
        member.admin_checked_at,
        member.active,
    )
    core.cache.remember_member(who.platform, who.workspace, who.member, ref)
    return ref


def forget(core: Relais, who: Who) -> None:
    """Drop the hot path's picture of this member (their language changed)."""
    core.cache.forget_member(who.platform, who.workspace, who.member)


def local(moment: datetime, timezone: str | None) -> str:
    """`YYYY-MM-DD HH:MM` in a time zone (UTC when unknown)."""
    return moment.astimezone(member_service.zone_of(timezone)).strftime("%Y-%m-%d %H:%M")
