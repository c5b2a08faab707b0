"""Who is acting, through the core's one look-up (`bot.flows.acting`) with a directory written here."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core import Relais
from bot.flows import acting, preferences
from bot.flows.acting import Who
from bot.services.members import Profile
from models import Member, Platform, Workspace
from tests.bot.flows.conftest import Directory

Sessions = async_sessionmaker[AsyncSession]
ANNE = Who(Platform.SLACK, "TEAM", "UANNE")


async def test_first_contact_creates_the_rows_and_reads_the_profile(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    caller = await acting.caller(core, directory, ANNE, channel="CNEWS")
    assert (caller.lang, caller.admin, caller.timezone, caller.channel) == (
        "fr",
        False,
        "Europe/Paris",
        "CNEWS",
    )
    async with sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        member = (await session.scalars(select(Member))).one()
    assert (workspace.platform, workspace.external_id, workspace.timezone) == (Platform.SLACK, "TEAM", "UTC")
    assert (member.external_id, member.display_name, member.locale) == ("UANNE", "Anne", "fr-FR")
    assert acting.cached_language(core, ANNE) == "fr"


async def test_the_profile_is_asked_again_only_when_stale_and_kept_when_the_directory_fails(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    await acting.caller(core, directory, ANNE)
    await acting.caller(core, directory, ANNE)
    assert directory.calls == ["UANNE"]  # fresh: not asked twice
    assert isinstance(core.clock, FrozenClock)
    core.clock.advance(timedelta(minutes=11))
    directory.broken = True
    caller = await acting.caller(core, directory, ANNE)
    assert directory.calls == ["UANNE", "UANNE"]
    assert (caller.lang, caller.member.display_name) == ("fr", "Anne")  # what was cached
    directory.broken = False
    directory.profiles["UANNE"] = Profile(
        display_name="Anne B.", locale="en-US", timezone=None, is_admin=True
    )
    caller = await acting.caller(core, directory, ANNE)
    assert (caller.lang, caller.admin, caller.timezone) == ("en", True, "Europe/Paris")  # a zone is kept


async def test_a_time_zone_falls_back_to_the_workspaces_then_utc(core: Relais, directory: Directory) -> None:
    owner = await acting.caller(core, directory, Who(Platform.SLACK, "TEAM", "UOWNER"))
    assert owner.timezone == "UTC"
    owner.workspace.timezone = "America/New_York"
    assert owner.timezone == "America/New_York"


async def test_a_home_preference_is_saved_and_the_language_cache_forgotten(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    await preferences.home_preference(core, directory, ANNE, "home_nudges_off")
    await preferences.home_preference(core, directory, ANNE, "home_lang_en")
    assert acting.cached_language(core, ANNE) == "en"  # never seen since the change: the default
    async with sessions() as session:
        member = (await session.scalars(select(Member))).one()
    assert (member.opted_out, member.language) == (True, "en")
    await preferences.home_preference(core, directory, ANNE, "home_nudges_on")
    async with sessions() as session:
        member = (await session.scalars(select(Member))).one()
    assert (member.opted_out, member.paused_until) == (False, None)
