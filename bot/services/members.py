"""Workspaces and members: who is talking to Relais, in which language and time zone, and whether
they are an admin. The chat platform's directory is consulted through the `Directory` port and cached
on the member row for `PROFILE_TTL`."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.config import admins_in, is_guid, split_admin, user_id_key
from bot.db import insert_ignoring_conflicts
from bot.i18n import Language, language_for
from models import Member, Workspace

logger = logging.getLogger(__name__)

PROFILE_TTL: Final = timedelta(minutes=10)
# Where neither the member nor their workspace has a time zone.
DEFAULT_TIMEZONE: Final = "UTC"


@dataclass(frozen=True)
class Profile:
    """What the chat platform says about a person."""

    display_name: str | None
    locale: str | None
    timezone: str | None
    is_admin: bool
    active: bool = True


class Directory(Protocol):
    """The chat platform's user directory (Slack: users.info with include_locale)."""

    async def profile(self, user_id: str) -> Profile | None: ...


async def ensure_workspace(
    session: AsyncSession, *, platform: str, external_id: str, now: datetime
) -> Workspace:
    """The workspace row for a team/tenant id on a platform (an adapter's name), created on first contact
    (concurrent requests agree)."""
    query = select(Workspace).where(Workspace.platform == platform, Workspace.external_id == external_id)
    workspace = await session.scalar(query)
    if workspace is None:
        row = {
            "platform": platform,
            "external_id": external_id,
            "timezone": "UTC",
            "settings": {},
            "created_at": now,
            "updated_at": now,
        }
        await session.execute(insert_ignoring_conflicts(session, Workspace.__table__, [row]))
        workspace = (await session.scalars(query)).one()
    return workspace


def served_workspaces() -> Select[int]:
    """The ids of the workspaces Relais serves: not those the Slack app was uninstalled from (their
    scheduled work waits for a reinstall rather than piling up)."""
    return select(Workspace.id).where(Workspace.uninstalled_at.is_(None))


async def find_workspace(session: AsyncSession, *, platform: str, external_id: str) -> Workspace | None:
    """The workspace row of a team/tenant id on a platform, if Relais has met it."""
    return await session.scalar(
        select(Workspace).where(Workspace.platform == platform, Workspace.external_id == external_id)
    )


async def ensure_member(
    session: AsyncSession, *, workspace: Workspace, external_id: str, now: datetime
) -> Member:
    """The member row for a platform user id in `workspace`, created on first contact."""
    return await ensure_member_in(session, workspace_id=workspace.id, external_id=external_id, now=now)


async def ensure_member_in(
    session: AsyncSession,
    *,
    workspace_id: int,
    external_id: str,
    now: datetime,
    fields: Mapping[str, object] | None = None,
) -> Member:
    """`ensure_member` by the workspace's id (the hot path knows the id, not the row). `fields`: columns a
    new row starts with (what the platform said about the person), so that it needs no UPDATE."""
    query = select(Member).where(Member.workspace_id == workspace_id, Member.external_id == external_id)
    member = await session.scalar(query)
    if member is None:
        row = {
            **(fields or {}),
            "workspace_id": workspace_id,
            "external_id": external_id,
            "created_at": now,
            "updated_at": now,
        }
        await session.execute(insert_ignoring_conflicts(session, Member.__table__, [row]))
        member = (await session.scalars(query)).one()
    return member


class LookupFailed:
    """The directory could not answer (timeout, outage): keep what is cached."""


LOOKUP_FAILED: Final = LookupFailed()


def profile_is_fresh(member: Member, now: datetime) -> bool:
    return member.admin_checked_at is not None and now - member.admin_checked_at < PROFILE_TTL


async def look_up(directory: Directory, member: Member) -> Profile | LookupFailed | None:
    """Ask the directory about `member`. Call it outside any transaction: it is a network call, and a
    write transaction held open across it blocks every other writer (on SQLite, all of them).
    None means the person is gone; a failure is logged and reported as `LOOKUP_FAILED`."""
    return await look_up_id(directory, member_id=member.id, external_id=member.external_id)


async def look_up_id(
    directory: Directory, *, member_id: int, external_id: str
) -> Profile | LookupFailed | None:
    """`look_up` by the member's ids (the hot path knows them, not the row)."""
    try:
        return await directory.profile(external_id)
    except Exception as exc:
        # One line, not a traceback each time: a dead token fails every look-up (the traceback at DEBUG).
        logger.warning(
            "directory lookup failed for member %s (%s: %s)",
            member_id,
            type(exc).__name__,
            exc,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
        return LOOKUP_FAILED


async def hold_live(
    session: AsyncSession, members: Collection[tuple[int, int]], *, to_update: bool = False
) -> set[int]:
    """Of `members` ((workspace id, member id) pairs), the ids of those not erased, each held against an
    erasure (`bot.services.erasure`) until the transaction ends, in one statement: a write that follows
    in the same transaction can then never land on a row an erasure cleared meanwhile. On PostgreSQL the
    rows are locked `FOR SHARE` (an erasure's claim waits for the commit; one that committed first is
    seen); on SQLite the transaction is begun `IMMEDIATE` first when none is open (it takes the
    database's write lock, which the erasure's claim needs too), so that the check runs inside it. Nothing
    is written. `to_update`: the caller updates those member rows next in the same transaction; on
    PostgreSQL they are then locked `FOR UPDATE`, since two transactions each holding a row `FOR SHARE`
    and both updating it deadlock."""
    if not members:
        return set()
    wanted = set(members)
    query = select(Member.workspace_id, Member.id).where(
        Member.workspace_id.in_(sorted({workspace_id for workspace_id, _ in wanted})),
        Member.id.in_(sorted({member_id for _, member_id in wanted})),
        Member.erased_at.is_(None),
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=not to_update)
    else:
        await _begin_immediate(session)
    found = await session.execute(query)
    return {member_id for workspace_id, member_id in found if (workspace_id, member_id) in wanted}


async def _begin_immediate(session: AsyncSession) -> None:
    """SQLite: begin the session's transaction as a writer (Python's sqlite3 would begin it only at the
    first write), unless one is open already (it then holds the lock, or fails at its first write if
    another writer committed since its snapshot: never writes over it)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection  # aiosqlite's
    if driver is not None and not driver.in_transaction:
        await session.execute(text("BEGIN IMMEDIATE"))


def apply_profile(member: Member, profile: Profile | LookupFailed | None, *, now: datetime) -> Member:
    """Write what the directory said on the member row. A failed lookup keeps the cached values:
    nobody is locked out by a Slack hiccup."""
    if isinstance(profile, LookupFailed):
        return member
    if profile is None:
        member.active = False
    else:
        member.display_name = profile.display_name or member.display_name
        member.locale = profile.locale or member.locale
        member.timezone = profile.timezone or member.timezone
        member.is_admin = profile.is_admin
        member.active = profile.active
    member.admin_checked_at = now
    return member


def is_admin(
    member: Member, *, admins: frozenset[str], workspace: str, enterprise: str | None = None
) -> bool:
    """Workspace admins and owners (cached from the directory) and the ids RELAIS_ADMINS (`admins`) names
    in `workspace`, the member's (its team or tenant id; `enterprise`, its Grid organisation's id): alone,
    with this workspace, or with its organisation (`bot.config.admins_in`; an Entra object id matches
    whatever its case)."""
    return member.is_admin or user_id_key(member.external_id) in admins_in(admins, workspace, enterprise)


async def is_admin_in(session: AsyncSession, member: Member, *, admins: frozenset[str]) -> bool:
    """`is_admin`, the member's workspace read in `session` (a caller that holds only the member row)."""
    found = (
        await session.execute(
            select(Workspace.external_id, Workspace.enterprise_id).where(Workspace.id == member.workspace_id)
        )
    ).first()
    return found is not None and is_admin(member, admins=admins, workspace=found[0], enterprise=found[1])


def named_admin(admins: frozenset[str]) -> ColumnElement[bool]:
    """`is_admin`'s RELAIS_ADMINS part as SQL, on members joined with their workspace: an id named alone,
    or named with the member's workspace or its Grid organisation (`bot.config.admins_in`). The entries'
    GUIDs are in lower case (`user_id_key`): the rows' are compared in lower case too, whatever case
    Teams or an older row wrote them in."""
    matches: list[ColumnElement[bool]] = []
    for entry in sorted(admins):
        named, user = split_admin(entry)
        member = _same_id(Member.external_id, user)
        if named is None:
            matches.append(member)
        elif named.startswith("E") and not is_guid(named):  # a Grid organisation: all of its workspaces
            matches.append(and_(Workspace.enterprise_id == named, member))
        else:
            matches.append(and_(_same_id(Workspace.external_id, named), member))
    return or_(false(), *matches)


def _same_id(column: ColumnElement[str] | InstrumentedAttribute[str], key: str) -> ColumnElement[bool]:
    """`column` holds the id `key` (`user_id_key`): a GUID whatever the case it was stored in."""
    return func.lower(column) == key if is_guid(key) else column == key


def language_of(member: Member) -> Language:
    return language_for(chosen=member.language, locale=member.locale)


async def language_of_id(session: AsyncSession, *, workspace_id: int, external_id: str) -> Language:
    """The language of whoever has this platform id in the workspace (English for someone Relais does not
    know: an admin named in RELAIS_ADMINS who never used it)."""
    known = await session.scalar(
        select(Member).where(Member.workspace_id == workspace_id, Member.external_id == external_id)
    )
    return language_of(known) if known is not None else "en"


async def display_names(
    session: AsyncSession, *, workspace_id: int, external_ids: Collection[str]
) -> dict[str, str]:
    """The display names Relais knows for these platform ids in the workspace (a platform that mentions a
    person by name, such as Teams, needs it); ids without one are left out."""
    if not external_ids:
        return {}
    rows = await session.execute(
        select(Member.external_id, Member.display_name).where(
            Member.workspace_id == workspace_id,
            Member.external_id.in_(list(external_ids)),
            Member.display_name.is_not(None),
        )
    )
    return {external_id: name for external_id, name in rows if name}


def timezone_of(member: Member, workspace: Workspace) -> str:
    """The member's time zone: their own (from the directory), else the workspace's, else UTC. The one
    place this fallback is written (`timezone_column` is the same rule in SQL)."""
    return member.timezone or workspace.timezone or DEFAULT_TIMEZONE


async def timezone_of_member(session: AsyncSession, member_id: int) -> str | None:
    """`timezone_of` the member with this id; None when there is no such member."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    return timezone_of(member, await session.get_one(Workspace, member.workspace_id))


def timezone_column(workspace: Workspace) -> ColumnElement[str]:
    """`timezone_of` for every member of `workspace`, as SQL: to select or group members by their time
    zone in one query."""
    return func.coalesce(Member.timezone, workspace.timezone or DEFAULT_TIMEZONE)


def known_zone(name: str | None) -> ZoneInfo | None:
    """A time zone by name (no name: UTC); None when no zone has that name. The one reader of zone
    names: a caller says what an unknown one means (`zone_of`: UTC; a schedule: a refusal)."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_of(name: str | None) -> ZoneInfo:
    """A time zone by name, UTC when it is unknown (showing a time must never fail on a bad zone)."""
    return known_zone(name) or ZoneInfo(DEFAULT_TIMEZONE)
