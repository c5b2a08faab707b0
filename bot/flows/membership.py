"""Relais installed somewhere, and people joining or leaving where it is, whatever the platform.

A platform that tells its bot who is there (Teams: `installationUpdate`, `conversationUpdate`) hands each
person over as a `Person`: their id, what the platform says about them, and the way to write to them
first (the platform's conversation reference, kept by `bot.services.conversations`). The workspace is
created on first contact; whoever installed Relais is one of its admins, and the channel it was installed
in becomes the default channel when the workspace has none. All of it in one short transaction, with the
installer's welcome queued in the outbox (sent by the drainer, retried when the platform refuses it for
a while, and never queued twice for one place).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.core import Relais
from bot.db import Sessions
from bot.flows import acting
from bot.flows.acting import Who
from bot.i18n import language_for
from bot.messages.welcome import WELCOME_KIND
from bot.services import conversations, outbox
from bot.services import members as member_service
from bot.services.members import Profile
from models import Member, Workspace


@dataclass(frozen=True)
class Person:
    """Someone the platform says is there. `reference` is how to write to them first (None: unknown)."""

    external_id: str
    name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    reference: dict[str, Any] | None = None


@dataclass(frozen=True)
class Place:
    """Where Relais was installed: a conversation (`key`, its id) and how to write there. `channel` says
    it is a team's channel, which may become the workspace's default channel. `scope` is what one welcome
    is for, when wider than the place (a team, whichever of its channels the platform names): None, the
    place itself."""

    key: str
    reference: dict[str, Any]
    channel: bool
    scope: str | None = None


async def installed(
    core: Relais, *, platform: str, workspace: str, installer: Person | None, place: Place
) -> bool:
    """Relais was installed in `place` by `installer` (None when the platform does not say who). The
    installer is recorded as an admin; the welcome, in their language, is queued to `place` only the first
    time Relais hears of it (and once per place, or per its scope: its dedupe key), so that the platform
    sending the same news again, or naming another channel of the same team, changes nothing. Returns
    whether a welcome may have been queued (the caller may have it sent soon)."""
    async with core.sessions() as session:
        row = await _workspace(core, session, platform, workspace)
        first_time = await conversations.reference_for(session, workspace_id=row.id, key=place.key) is None
        await conversations.remember(
            session, workspace_id=row.id, key=place.key, reference=place.reference, now=core.clock.now()
        )
        if place.channel and row.default_channel is None:
            row.default_channel = place.key
            row.updated_at = core.clock.now()
        member = (
            await _record(core, session, row.id, installer, admin=True) if installer is not None else None
        )
        if first_time:
            lang = language_for(
                chosen=member.language if member else None, locale=member.locale if member else None
            )
            await outbox.enqueue(
                session,
                workspace_id=row.id,
                kind=WELCOME_KIND,
                destination=place.key,
                payload={"lang": lang},
                now=core.clock.now(),
                dedupe_key=_welcome_key(place.scope or place.key),
            )
        await session.commit()
    return first_time


def _welcome_key(scope: str) -> str:
    """The welcome's dedupe key for a place (or its scope): its id hashed, since an id may take the
    column's whole width (Teams' 1:1 chat ids run to hundreds of characters)."""
    return "welcome:" + hashlib.sha256(scope.encode()).hexdigest()


async def joined(core: Relais, *, platform: str, workspace: str, people: Sequence[Person]) -> None:
    """`people` are where Relais is (added to a team it is in, or met there): each one's member row,
    active again, with what the platform said and the way to reach them."""
    async with core.sessions() as session:
        row = await _workspace(core, session, platform, workspace)
        for person in people:
            await _record(core, session, row.id, person)
        await session.commit()


async def spoke(
    core: Relais, *, platform: str, workspace: str, person: Person, place: Place | None = None
) -> Profile:
    """`person` wrote to Relais (a command, a click): recorded as `joined` records people, with their
    profile as the platform gave it just now (so the look-up of who is acting finds it fresh), and
    `place` (a team's channel the message came from) remembered as a way to write there. The person's
    `reference` from a 1:1 chat (`place` None) replaces the stored one; from a channel it is kept only
    when Relais had no way to reach them yet (their 1:1 chat stays the way to write to them). Returns
    their profile as Relais now knows it, the admin right kept: the directory of a platform whose
    activities carry the profile."""
    now = core.clock.now()
    async with core.sessions() as session:
        workspace_id = await _workspace_id(core, session, platform, workspace)
        known = False
        if place is not None:
            await conversations.remember(
                session, workspace_id=workspace_id, key=place.key, reference=place.reference, now=now
            )
            known = await conversations.has_reference(
                session, workspace_id=workspace_id, key=person.external_id
            )
        member = await _record(
            core, session, workspace_id, replace(person, reference=None) if known else person, checked=now
        )
        profile = Profile(
            display_name=member.display_name,
            locale=member.locale,
            timezone=member.timezone,
            is_admin=member.is_admin,
            active=True,
        )
        await session.commit()
    # The hot path (a share click) answers in the language it keeps in memory: the one just recorded.
    acting.remember(core, Who(platform, workspace, person.external_id), member)
    return profile


async def left(core: Relais, *, platform: str, workspace: str, people: Sequence[str]) -> None:
    """`people` (their ids) left where Relais is: they get nothing more until they come back."""
    async with core.sessions() as session:
        row = await session.scalar(
            select(Workspace).where(Workspace.platform == platform, Workspace.external_id == workspace)
        )
        if row is None or not people:
            return
        await session.execute(
            update(Member)
            .where(Member.workspace_id == row.id, Member.external_id.in_(list(people)))
            .values(active=False, admin_checked_at=None, updated_at=core.clock.now())
        )
        await session.commit()


async def workspace_id(sessions: Sessions, *, platform: str, workspace: str) -> int | None:
    """The id of the workspace (`platform`, its own id), None when Relais does not know it yet: what an
    adapter keeps a workspace's pace by (`bot.services.outbox.WorkspacePace`), in a session of its own."""
    async with sessions() as session:
        found = await member_service.find_workspace(session, platform=platform, external_id=workspace)
        return found.id if found is not None else None


async def _workspace(core: Relais, session: AsyncSession, platform: str, external_id: str) -> Workspace:
    return await member_service.ensure_workspace(
        session, platform=platform, external_id=external_id, now=core.clock.now()
    )


async def _workspace_id(core: Relais, session: AsyncSession, platform: str, external_id: str) -> int:
    """The workspace's id, from this process's memory (the hot path's) once it met the workspace: a
    workspace row is never deleted, so its id does not change."""
    found = core.cache.workspace(platform, external_id)
    if found is None:
        found = (await _workspace(core, session, platform, external_id)).id
        core.cache.remember_workspace(platform, external_id, found)
    return found


async def _record(
    core: Relais,
    session: AsyncSession,
    workspace_id: int,
    person: Person,
    *,
    checked: datetime | None = None,
    admin: bool = False,
) -> Member:
    """`person`'s member row with what the platform said, active (and an admin with `admin`), in one
    UPDATE at most (none when nothing changed): `checked` (the platform's word on them came with this
    activity: a Teams sender) moves `admin_checked_at` on when it is past half of `PROFILE_TTL`, so that
    the profile stays fresh for the turn's look-up of who is acting without a write on each click. The
    UPDATE is conditional on the row not being erased: an erasure committed since the row was read
    (`bot.services.erasure`) keeps it cleared, and nothing about the person is recorded."""
    now = core.clock.now()
    said = {"display_name": person.name, "locale": person.locale, "timezone": _zone(person.timezone)}
    fresh = {name: value for name, value in said.items() if value} | (
        {"admin_checked_at": checked} if checked is not None else {}
    )
    member = await member_service.ensure_member_in(
        session, workspace_id=workspace_id, external_id=person.external_id, now=now, fields=fresh
    )
    changes: dict[str, Any] = {name: value or getattr(member, name) for name, value in said.items()}
    changes["active"] = True
    if admin:
        changes["is_admin"] = True
    changes = {name: value for name, value in changes.items() if getattr(member, name) != value}
    if changes:
        changes["updated_at"] = now
    if checked is not None and (
        member.admin_checked_at is None or checked - member.admin_checked_at >= member_service.PROFILE_TTL / 2
    ):
        changes["admin_checked_at"] = checked
    if changes:
        written = await session.execute(
            update(Member)
            .where(Member.id == member.id, Member.erased_at.is_(None))
            .values(**changes)
            .execution_options(synchronize_session=False)
        )
        if not written.rowcount:  # type: ignore[attr-defined]
            return member  # erased meanwhile
        for name, value in changes.items():
            set_committed_value(member, name, value)
    if person.reference is not None:
        await conversations.remember(
            session, workspace_id=workspace_id, key=person.external_id, reference=person.reference, now=now
        )
    return member


def _zone(name: str | None) -> str | None:
    """A time zone the platform gave, kept only when it is a real one (IANA name)."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name
