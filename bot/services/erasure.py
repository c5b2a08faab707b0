"""Erasing a member's personal data (GDPR article 17): `/relais forget-me` and `relais erase-member`.

What goes: their profile and preferences, their connections (the tokens revoked at the network where it
allows it), the clicks and visit tallies of their personal links, their "Not for me", their suggestions
(a post made from one stays), their connection and sign-in sessions, the messages addressed to them
(sent or not) and their Teams conversation reference. What stays, anonymous: the member row, as a
placeholder holding nothing but an unguessable `external_id` `erased:…` (it never matches the person
again, so that the person coming back is a new member) and `erased_at` (what admins' count of erasures
and the writes racing an erasure read); their shares (post, network, status, dates), as counts that stand
for nobody: their personal parts cleared (caption, the network's post id and URL, error) and `member_id`
NULL, not the placeholder's, so that no history per erased person is left, while the company's share
totals stay true; their tracked links, also with no member, which still open the article but count
nothing (`bot.services.links`); and the posts they queued and suggestions they decided, by nobody.
Anything else naming them (a leaderboard or review message, a channel's conversation reference) is
scrubbed.

The tokens are read and revoked first, outside any write transaction (a network call); then everything
is erased in one transaction, whose first statement claims the member (`erased_at`), so that two
erasures of the same member at once agree: the second finds nothing to do. What that transaction finds
that was not read before it (a connection, a token renewal or a `/relais mydata` file completed
meanwhile) is revoked and deleted at the network after it commits; one completing after the claim finds
the member erased and revokes or deletes its own (`bot.services.connections`, `bot.services.mydata`). A
file the platform failed to delete keeps its id (`sent_file`) until the clock deletes it
(`delete_left_files`).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Final, Protocol, cast, runtime_checkable

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import CursorResult, String, delete, func, or_, select, true, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import user_id_key
from bot.services import conversations, installs, outbox
from bot.services.posting.claims import RESTORE_KEY
from bot.services.suggestions import REVIEW_KIND, REVIEW_UPDATE_KIND
from bot.social import SocialClient, SocialError
from models import (
    Click,
    ConversationRef,
    DashboardMemberWeek,
    DashboardRefresh,
    Dismissal,
    InboundDelivery,
    Member,
    Network,
    OAuthAttempt,
    OutboxMessage,
    Post,
    SentFile,
    SettledPoints,
    Share,
    ShareStatus,
    SocialAccount,
    Suggestion,
    TrackedLink,
    VisitTally,
    WebSession,
    Workspace,
)
from models.enums import OutboxState
from models.outbox import OutboxPacing

logger = logging.getLogger(__name__)

ERASED_PREFIX: Final = "erased:"


@dataclass(frozen=True)
class Target:
    """The member to erase, as read before the erasure: their row's ids, the names to scrub, and their
    tokens (still encrypted) to revoke."""

    workspace_id: int
    member_id: int
    external_id: str
    display_name: str | None
    tokens: tuple[tuple[Network, str], ...]
    files: tuple[str, ...] = ()  # the platform's ids of the files Relais put in their private chat


@runtime_checkable
class DeletesFiles(Protocol):
    """A chat platform that can delete the files Relais put in a member's private chat (`/relais
    mydata`'s copy of their data: the member cannot delete a file the bot uploaded)."""

    async def delete_files(self, workspace_id: int, file_ids: Sequence[str]) -> Sequence[str]:
        """Delete them at the platform, each with the credentials of `workspace_id`, where it was sent;
        the ids of those gone (deleted now, or already). A failure is logged (never a token), never
        raised: the file is left out of the answer, so that its id is kept and its deletion tried again
        (`delete_left_files`)."""
        ...


@dataclass(frozen=True)
class Erased:
    """What one erasure did, as counts (never names): `shares` kept as anonymous counts, the rest
    deleted (`revoked`: tokens the network confirmed revoked)."""

    shares: int
    connections: int
    revoked: int
    clicks: int
    dismissals: int
    suggestions: int
    messages: int
    sessions: int
    # Inside the erasure only (`erase_member`): what its transaction found that was not read before it.
    late: Target | None = field(default=None, repr=False, compare=False)

    def lines(self) -> list[str]:
        """The counts, one `name: n` line each (what `relais erase-member` prints)."""
        return [f"{counted.name}: {getattr(self, counted.name)}" for counted in fields(self) if counted.repr]


@functools.lru_cache(maxsize=256)
def whole_id(external_id: str) -> re.Pattern[str]:
    """`external_id` as a whole id in a text (`<@UEMP2>`, `nudge:UEMP2:…`), never inside a longer one
    (`UEMP21`): ids are made of word characters, so no word character may touch it on either side."""
    return re.compile(rf"(?<!\w){re.escape(external_id)}(?!\w)")


def is_erased_id(external_id: str) -> bool:
    """Whether a member's `external_id` is an erased placeholder's."""
    return external_id.startswith(ERASED_PREFIX)


async def find_target(session: AsyncSession, *, platform: str, workspace: str, member: str) -> Target | None:
    """The member a platform's ids name, with what the erasure needs; None when Relais holds nobody by
    those ids (an unknown workspace or member, or one erased already)."""
    found = (
        (
            await session.execute(
                select(Member)
                .join(Workspace, Workspace.id == Member.workspace_id)
                .where(
                    Workspace.platform == platform,
                    Workspace.external_id == workspace,
                    _same_id(member),
                    Member.erased_at.is_(None),
                )
            )
        )
        .scalars()
        .first()
    )
    if found is None:
        return None
    return await target_of(session, found)


def _same_id(member: str) -> Any:
    """A member's id as `bot.config.user_id_key` compares it: an Entra object id (a GUID) whatever its
    case (an operator may paste it in upper case), any other id exactly."""
    if user_id_key(member.upper()) == member.upper():  # not a GUID: as it is
        return Member.external_id == member
    return func.lower(Member.external_id) == member.lower()


async def target_of(session: AsyncSession, member: Member) -> Target:
    tokens, files = await _held_outside(session, member.workspace_id, member.id)
    return Target(member.workspace_id, member.id, member.external_id, member.display_name, tokens, files)


async def _held_outside(
    session: AsyncSession, workspace_id: int, member_id: int
) -> tuple[tuple[tuple[Network, str], ...], tuple[str, ...]]:
    """What of the member lives at networks and platforms too: their tokens (encrypted) and the ids of
    the files Relais sent them."""
    accounts = await session.execute(
        select(
            SocialAccount.network, SocialAccount.access_token_encrypted, SocialAccount.refresh_token_encrypted
        )
        .where(SocialAccount.workspace_id == workspace_id, SocialAccount.member_id == member_id)
        .order_by(SocialAccount.id)
    )
    tokens = tuple((network, value) for network, *values in accounts for value in values if value)
    files = await session.scalars(
        select(SentFile.file_id)
        .where(SentFile.workspace_id == workspace_id, SentFile.member_id == member_id)
        .order_by(SentFile.id)
    )
    return tokens, tuple(files)


def _late(target: Target, tokens: Sequence[tuple[Network, str]], files: Sequence[str]) -> Target:
    """Of the tokens and files the erasure's transaction finds at its claim, those not read before it (a
    connection, a token renewal or a `/relais mydata` upload that completed in between), as a target."""
    return replace(
        target,
        tokens=tuple(token for token in tokens if token not in target.tokens),
        files=tuple(file_id for file_id in files if file_id not in target.files),
    )


async def same_person_elsewhere(session: AsyncSession, target: Target) -> list[Target]:
    """The same person in the other workspaces of their Slack Enterprise Grid org that Relais serves: there
    a user id is one person across the org's workspaces, each of which holds them as a member of its
    own. Each is erased as its own target (its own tokens revoked). None outside an org (a Teams tenant,
    a workspace not in a Grid org)."""
    enterprise = select(Workspace.enterprise_id).where(Workspace.id == target.workspace_id).scalar_subquery()
    platform = select(Workspace.platform).where(Workspace.id == target.workspace_id).scalar_subquery()
    found = await session.scalars(
        select(Member)
        .join(Workspace, Workspace.id == Member.workspace_id)
        .where(
            Workspace.platform == platform,
            Workspace.enterprise_id.is_not(None),
            Workspace.enterprise_id == enterprise,
            Workspace.id != target.workspace_id,
            Member.external_id == target.external_id,
            Member.erased_at.is_(None),
        )
        .order_by(Member.workspace_id)
    )
    return [await target_of(session, member) for member in found.all()]


async def revoke_tokens(
    target: Target, *, cipher: MultiFernet | None, clients: Mapping[Network, SocialClient]
) -> int:
    """Revoke the member's tokens at each network that allows it; how many it confirmed. A failure is
    logged (never the token) and does not stop the erasure: the tokens are deleted anyway."""
    revoked = 0
    for network, encrypted in target.tokens:
        client = clients.get(network)
        if client is None or cipher is None:
            continue
        try:
            if await client.revoke(cipher.decrypt(encrypted.encode()).decode()):
                revoked += 1
        except (SocialError, InvalidToken, OSError):
            logger.warning("revoking a %s token when erasing failed; it is deleted anyway", network.value)
    return revoked


async def erase_member(
    sessions: async_sessionmaker[AsyncSession],
    target: Target,
    *,
    cipher: MultiFernet | None,
    clients: Mapping[Network, SocialClient],
    now: datetime,
    files: DeletesFiles | None = None,
) -> Erased | None:
    """Erase `target` (read by `find_target` or `target_of`): its tokens revoked and the files Relais sent
    them deleted at their platform (`files`) first, outside any transaction, then everything in one
    transaction. None when the member was erased meanwhile (a second click, another process): nothing
    is changed. Tokens and files that appeared between that first read and the transaction's claim (a
    connection, a token renewal or an upload completing meanwhile: after the claim none can,
    `members.hold_live`) are revoked and deleted at the network once it has committed (`Erased.late`), so
    that none is left there.

    A token is deleted whatever its network answered (keeping it to try again would keep the person's
    credential). A file's id is kept until the platform says the file is gone: one it failed to delete (a
    5xx, a dead workspace token) stays in `sent_file`, on the erased placeholder, and the clock tries
    again (`delete_left_files`); the file holds the person's whole data."""
    revoked, gone = await _clear_outside(target, cipher=cipher, clients=clients, files=files)
    seen = await _seen(sessions, target)
    async with sessions() as session:
        erased = await _erase(session, target, revoked=revoked, now=now, seen=seen, files_gone=gone)
        if erased is None:
            await session.rollback()
            return None
        await session.commit()
    if erased.late is None:
        return erased
    late, gone = await _clear_outside(erased.late, cipher=cipher, clients=clients, files=files)
    await forget_files(sessions, erased.late.workspace_id, gone)
    return replace(erased, revoked=erased.revoked + late, late=None)


async def _clear_outside(
    target: Target,
    *,
    cipher: MultiFernet | None,
    clients: Mapping[Network, SocialClient],
    files: DeletesFiles | None,
) -> tuple[int, Sequence[str]]:
    """The target's tokens revoked and files deleted at their network and platform (network calls: never
    inside a transaction); how many tokens the networks confirmed revoked, and which files are gone."""
    revoked = await revoke_tokens(target, cipher=cipher, clients=clients)
    if not target.files or files is None:
        return revoked, ()
    return revoked, await files.delete_files(target.workspace_id, target.files)


async def forget_files(
    sessions: async_sessionmaker[AsyncSession], workspace_id: int, file_ids: Collection[str]
) -> int:
    """The ids of files of erased members that are gone at their platform, forgotten; how many. (A live
    member's are never touched here: theirs go with their erasure.)"""
    if not file_ids:
        return 0
    async with sessions() as session:
        forgotten = await session.execute(
            delete(SentFile).where(
                SentFile.workspace_id == workspace_id,
                SentFile.file_id.in_(sorted(file_ids)),
                SentFile.member_id.in_(
                    select(Member.id).where(
                        Member.workspace_id == workspace_id, Member.erased_at.is_not(None)
                    )
                ),
            )
        )
        await session.commit()
    return _count(forgotten)


# How many left files one pass of `delete_left_files` tries at most (a bounded pass of the clock).
LEFT_FILES_PER_PASS: Final = 200


async def delete_left_files(
    sessions: async_sessionmaker[AsyncSession], deleters: Mapping[str, DeletesFiles]
) -> int:
    """The files of erased members that their platform failed to delete at the erasure (`erase_member`),
    tried again (the clock's hourly retention job), each with its own workspace's credentials
    (`deleters`: by platform); their ids forgotten once gone. How many went. A file the platform keeps
    failing on is tried each pass until it goes. Those of a workspace the app is uninstalled from wait:
    tried again once it is reinstalled, or their ids go with the workspace's data when it is removed
    (`bot.services.workspace_erasure`)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(SentFile.workspace_id, Workspace.platform, SentFile.file_id)
                .join(
                    Member, (Member.id == SentFile.member_id) & (Member.workspace_id == SentFile.workspace_id)
                )
                .join(Workspace, Workspace.id == SentFile.workspace_id)
                .where(
                    Member.erased_at.is_not(None),
                    Workspace.platform.in_(sorted(deleters)),
                    # Not those of a workspace the app is uninstalled from: without its token nothing can
                    # delete them, and hundreds of them would take every pass from the others' files.
                    Workspace.uninstalled_at.is_(None),
                )
                .order_by(SentFile.workspace_id, SentFile.id)
                .limit(LEFT_FILES_PER_PASS)
            )
        ).all()
    forgotten = 0
    for (workspace_id, platform), left in itertools.groupby(rows, key=lambda row: row[:2]):
        deleter = deleters.get(platform)
        if deleter is not None:
            gone = await deleter.delete_files(workspace_id, [row.file_id for row in left])
            forgotten += await forget_files(sessions, workspace_id, gone)
    return forgotten


def _count(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


async def _erase(
    session: AsyncSession,
    target: Target,
    *,
    revoked: int,
    now: datetime,
    seen: Seen | None = None,
    files_gone: Collection[str] = (),
) -> Erased | None:
    """The erasure's transaction. `seen`: the rows that may name them elsewhere, found before it
    (`_seen`); None looks through every row here. `files_gone`: the files Relais sent them that their
    platform deleted; the others' ids stay, for the clock to try again (`delete_left_files`)."""
    workspace_id, member_id = target.workspace_id, target.member_id
    placeholder = ERASED_PREFIX + secrets.token_urlsafe(24)
    # The claim first: the row's write lock makes a concurrent erasure of the same member wait, then
    # find it erased.
    claimed = await session.execute(
        update(Member)
        .where(Member.id == member_id, Member.workspace_id == workspace_id, Member.erased_at.is_(None))
        .values(
            external_id=placeholder,
            display_name=None,
            locale=None,
            timezone=None,
            language=None,
            is_admin=False,
            admin_checked_at=None,
            opted_out=True,
            paused_until=None,
            nudges_unanswered=0,
            last_nudged_at=None,
            active=False,
            erased_at=now,
            updated_at=now,
        )
    )
    if _count(claimed) != 1:
        return None
    # After the claim no connection, token renewal nor file can be added (`members.hold_live`): what is
    # here now is all.
    late = _late(target, *await _held_outside(session, workspace_id, member_id))
    await _cancel_posts(session, workspace_id, member_id, now=now)
    # Their shares stay as anonymous counts, standing for nobody (`member_id` NULL: not even for the
    # placeholder, which would keep one history per erased person); stamped `updated_at` so that the
    # dashboard's aggregates and the points snapshot look at them again (`bot.services.analytics`,
    # `bot.services.scores`).
    shares = await session.execute(
        update(Share)
        .where(Share.workspace_id == workspace_id, Share.member_id == member_id)
        .values(member_id=None, caption=None, external_id=None, external_url=None, error=None, updated_at=now)
    )
    links = select(TrackedLink.id).where(
        TrackedLink.workspace_id == workspace_id, TrackedLink.member_id == member_id
    )
    earliest_click = await session.scalar(
        select(func.min(Click.at)).where(Click.workspace_id == workspace_id, Click.link_id.in_(links))
    )
    clicks = await session.execute(
        delete(Click).where(Click.workspace_id == workspace_id, Click.link_id.in_(links))
    )
    await session.execute(
        delete(VisitTally).where(VisitTally.workspace_id == workspace_id, VisitTally.link_id.in_(links))
    )
    if earliest_click is not None:
        # The aggregates held those clicks: rebuilt from the week of the first one at the next look.
        await session.execute(
            update(DashboardRefresh)
            .where(DashboardRefresh.workspace_id == workspace_id, DashboardRefresh.watermark > earliest_click)
            .values(watermark=earliest_click)
        )
    # Their own weekly figures (`bot.services.analytics`), which the next rebuild would drop anyway: the
    # placeholder keeps no history, not even until then.
    await session.execute(
        delete(DashboardMemberWeek).where(
            DashboardMemberWeek.workspace_id == workspace_id, DashboardMemberWeek.member_id == member_id
        )
    )
    # Their links still open the article and count nothing (`bot.services.links`), for nobody; the posts
    # they queued and the suggestions they decided (as an admin) stay, by nobody.
    await session.execute(
        update(TrackedLink)
        .where(TrackedLink.workspace_id == workspace_id, TrackedLink.member_id == member_id)
        .values(member_id=None)
    )
    await session.execute(
        update(Post)
        .where(Post.workspace_id == workspace_id, Post.created_by_id == member_id)
        .values(created_by_id=None)
    )
    await session.execute(
        update(Suggestion)
        .where(Suggestion.workspace_id == workspace_id, Suggestion.decided_by_id == member_id)
        .values(decided_by_id=None)
    )
    connections = await session.execute(
        delete(SocialAccount).where(
            SocialAccount.workspace_id == workspace_id, SocialAccount.member_id == member_id
        )
    )
    dismissals = await session.execute(
        delete(Dismissal).where(Dismissal.workspace_id == workspace_id, Dismissal.member_id == member_id)
    )
    suggestions = await session.execute(
        delete(Suggestion).where(Suggestion.workspace_id == workspace_id, Suggestion.member_id == member_id)
    )
    await session.execute(
        delete(OAuthAttempt).where(
            OAuthAttempt.workspace_id == workspace_id, OAuthAttempt.member_id == member_id
        )
    )
    web_sessions = await session.execute(
        delete(WebSession).where(WebSession.workspace_id == workspace_id, WebSession.member_id == member_id)
    )
    await session.execute(
        delete(SentFile).where(
            SentFile.workspace_id == workspace_id,
            SentFile.member_id == member_id,
            SentFile.file_id.in_(sorted(files_gone)),
        )
    )
    workspace = (
        await session.execute(
            select(Workspace.platform, Workspace.external_id).where(Workspace.id == workspace_id)
        )
    ).one()
    if workspace.platform == "slack":
        # The installation serving their workspace names who installed it.
        await installs.forget_installer(session, team_id=workspace.external_id, user_id=target.external_id)
    await session.execute(
        delete(SettledPoints).where(
            SettledPoints.workspace_id == workspace_id, SettledPoints.member_id == member_id
        )
    )
    # Addressed to them: to their id, or to their private chat (a reminder's edits go where it landed).
    theirs = await outbox.destinations_of(session, workspace_id=workspace_id, member=target.external_id)
    messages = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id, OutboxMessage.destination.in_(sorted(theirs))
        )
    )
    await session.execute(
        delete(OutboxPacing).where(
            OutboxPacing.workspace_id == workspace_id, OutboxPacing.destination.in_(sorted(theirs))
        )
    )
    await session.execute(
        delete(ConversationRef).where(
            ConversationRef.workspace_id == workspace_id, ConversationRef.key == target.external_id
        )
    )
    conversations.forget(session, workspace_id=workspace_id, key=target.external_id)
    marks = _marks(target, placeholder)
    removed = await _scrub_outbox(
        session,
        workspace_id,
        marks,
        author=target.external_id,
        within=_among(OutboxMessage.id, seen, "outbox"),
    )
    await _scrub_rows(
        session, Suggestion, Suggestion.review_messages, workspace_id, marks,
        within=_among(Suggestion.id, seen, "suggestions"),
    )  # fmt: skip
    await _scrub_rows(
        session, ConversationRef, ConversationRef.reference, workspace_id, marks,
        within=_among(ConversationRef.id, seen, "refs"),
    )  # fmt: skip
    await _scrub_workspace(session, workspace_id, marks)
    await _forget_deliveries(
        session, (await session.get_one(Workspace, workspace_id)).platform, marks, seen=seen
    )
    return Erased(
        shares=_count(shares),
        connections=_count(connections),
        revoked=revoked,
        clicks=_count(clicks),
        dismissals=_count(dismissals),
        suggestions=_count(suggestions),
        messages=_count(messages) + removed,
        sessions=_count(web_sessions),
        late=late if late.tokens or late.files else None,
    )


async def _cancel_posts(session: AsyncSession, workspace_id: int, member_id: int, *, now: datetime) -> None:
    """Their API posts still waiting (a click's, or one due again after a 429) are cancelled, and those
    shares settled as the poster settles a failure (`bot.services.posting.poster`): nothing is posted in
    the name of someone erased, nor are they told. A post under way (`sending`) ends in the poster, which
    keeps its outcome anonymous."""
    shares = select(sql_cast(Share.id, String)).where(
        Share.workspace_id == workspace_id,
        Share.member_id == member_id,
        Share.status.in_((ShareStatus.PENDING, ShareStatus.RETRYING)),
    )
    jobs = (
        await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.workspace_id == workspace_id,
                OutboxMessage.kind == outbox.SOCIAL_POST_KIND,
                OutboxMessage.state == OutboxState.PENDING,
                OutboxMessage.destination.in_(shares),
            )
        )
    ).all()
    for job in jobs:
        job.state, job.last_error, job.updated_at = OutboxState.CANCELLED, None, now
        restore = job.payload.get(RESTORE_KEY) if isinstance(job.payload, dict) else None
        await session.execute(
            update(Share)
            .where(
                Share.id == int(job.destination),
                Share.workspace_id == workspace_id,
                Share.status.in_((ShareStatus.PENDING, ShareStatus.RETRYING)),
            )
            .values(
                status=ShareStatus.INTENT if restore == ShareStatus.INTENT.value else ShareStatus.FAILED,
                updated_at=now,
            )
        )
    await session.flush()


# -- what names them elsewhere -----------------------------------------------------------------------
# Found in two steps: read-only before the erasure's transaction, every row that may name them (`_seen`:
# text searches through whole tables, which must not hold the write lock); then, in the transaction, only
# those rows, and the rows added since (ids above the highest seen), are looked at again.

_OUTBOX_TEXT: Final = (
    OutboxMessage.payload,
    OutboxMessage.result,
    OutboxMessage.dedupe_key,
    OutboxMessage.round_key,
    OutboxMessage.last_error,
)


@dataclass(frozen=True)
class Seen:
    """Per table, the ids of the rows that may name them, and the highest id the table held just before
    (`None`: it was empty); for inbound deliveries, their keys and the latest claim time then."""

    ids: Mapping[str, tuple[tuple[int, ...], int | None]]
    deliveries: tuple[tuple[str, ...], datetime | None]


async def _seen(sessions: async_sessionmaker[AsyncSession], target: Target) -> Seen:
    """The candidates of `Seen`, read outside any write transaction (each highest id read before its
    search, so that a row added meanwhile is either found or above it)."""
    marks = _marks(target, ERASED_PREFIX)
    workspace_id = target.workspace_id
    searches: dict[str, tuple[Any, Any, Any]] = {
        "outbox": (
            OutboxMessage.id,
            OutboxMessage.workspace_id,
            or_(*(_mentions(c, marks) for c in _OUTBOX_TEXT)),
        ),
        "suggestions": (Suggestion.id, Suggestion.workspace_id, _mentions(Suggestion.review_messages, marks)),
        "refs": (
            ConversationRef.id,
            ConversationRef.workspace_id,
            _mentions(ConversationRef.reference, marks),
        ),
    }
    ids: dict[str, tuple[tuple[int, ...], int | None]] = {}
    async with sessions() as session:
        for name, (id_column, workspace, mentions) in searches.items():
            highest = await session.scalar(select(func.max(id_column)).where(workspace == workspace_id))
            found = await session.scalars(select(id_column).where(workspace == workspace_id, mentions))
            ids[name] = (tuple(found), highest)
        platform = await session.scalar(select(Workspace.platform).where(Workspace.id == workspace_id))
        latest = await session.scalar(
            select(func.max(InboundDelivery.claimed_at)).where(InboundDelivery.platform == platform)
        )
        keys = await session.scalars(
            select(InboundDelivery.key).where(
                InboundDelivery.platform == platform, _mentions(InboundDelivery.answer, marks)
            )
        )
        deliveries = (tuple(keys), latest)
        await session.rollback()
    return Seen(ids, deliveries)


def _among(id_column: Any, seen: Seen | None, table: str) -> Any:
    """The rows `seen` found in `table`, and those added since; every row without `seen`."""
    if seen is None:
        return true()
    found, highest = seen.ids[table]
    added = id_column > (highest or 0)
    return or_(id_column.in_(found), added) if found else added


def _deliveries_among(seen: Seen | None) -> Any:
    if seen is None:
        return true()
    keys, latest = seen.deliveries
    added = (
        InboundDelivery.claimed_at >= latest
        if latest is not None
        else InboundDelivery.claimed_at.is_not(None)
    )
    return or_(InboundDelivery.key.in_(keys), added) if keys else added


@dataclass(frozen=True)
class Marks:
    """What names them, and what replaces it: `ids` (their platform ids: long and distinctive) wherever
    they occur in a string as a whole id (`whole_id`), `names` (their display name, which could be a
    common word) where a whole string is it. The replacement is the placeholder, unique per member, so a
    key holding it stays unique."""

    ids: Mapping[str, str]
    names: Mapping[str, str]

    def every(self) -> set[str]:
        return {*self.ids, *self.names}


def _marks(target: Target, placeholder: str) -> Marks:
    """Their platform id and their name. (A Teams channel's conversation reference names no person: only
    a member's own names them, and it is deleted.)"""
    names = {target.display_name: placeholder} if target.display_name else {}
    return Marks({target.external_id: placeholder}, names)


def scrubbed(value: Any, marks: Marks) -> Any:
    """`value` (JSON: dicts, lists, strings, numbers) with every mark replaced."""
    if isinstance(value, str):
        if value in marks.names:
            return marks.names[value]
        for mark, replacement in marks.ids.items():
            if mark in value:
                value = whole_id(mark).sub(replacement.replace("\\", "\\\\"), value)
        return value
    if isinstance(value, dict):
        return {scrubbed(key, marks): scrubbed(item, marks) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item, marks) for item in value]
    return value


def _mentions(column: Any, marks: Marks) -> Any:
    """A SQL filter keeping the rows whose `column` (text, or JSON as its text) may hold a mark: a first
    cut, checked again in Python. A JSON column holds non-ASCII text escaped (`\\u00e9`), so each mark is
    also looked for as JSON would write it."""
    as_text = sql_cast(column, String)
    wanted = marks.every() | {json.dumps(mark)[1:-1] for mark in marks.every()}
    return or_(*(as_text.contains(mark, autoescape=True) for mark in sorted(wanted)))


def _holds(value: Any, marks: Marks) -> bool:
    return bool(scrubbed(value, marks) != value)


async def _scrub_outbox(
    session: AsyncSession, workspace_id: int, marks: Marks, *, author: str, within: Any = True
) -> int:
    """Outbox rows naming them, not addressed to them (boards, reviews, progress): a review of one of
    their suggestions (and its update once decided) is deleted, as the suggestion is; the others keep
    their place with the marks replaced. How many were deleted."""
    rows = await session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id,
            within,
            or_(*(_mentions(column, marks) for column in _OUTBOX_TEXT)),
        )
    )
    removed = 0
    for row in rows:
        if row.kind in (REVIEW_KIND, REVIEW_UPDATE_KIND) and (row.payload or {}).get("author") == author:
            await session.delete(row)
            removed += 1
            continue
        for name in ("payload", "result", "dedupe_key", "round_key", "last_error"):
            value = getattr(row, name)
            if _holds(value, marks):
                setattr(row, name, scrubbed(value, marks))
    await session.flush()
    return removed


async def _scrub_rows(
    session: AsyncSession, model: type[Suggestion] | type[ConversationRef], column: Any, workspace_id: int,
    marks: Marks, *, within: Any = True,
) -> None:  # fmt: skip
    """The workspace's rows of `model` whose JSON `column` names them, with the marks replaced."""
    rows = await session.scalars(
        select(model).where(model.workspace_id == workspace_id, within, _mentions(column, marks))
    )
    for row in rows:
        value = getattr(row, column.key)
        if _holds(value, marks):
            setattr(row, column.key, scrubbed(value, marks))
    await session.flush()


async def _scrub_workspace(session: AsyncSession, workspace_id: int, marks: Marks) -> None:
    """The workspace's own settings (a schedule or a preference naming a member)."""
    workspace = await session.get_one(Workspace, workspace_id)
    if _holds(workspace.settings, marks):
        workspace.settings = scrubbed(workspace.settings, marks)
        await session.flush()


async def _forget_deliveries(
    session: AsyncSession, platform: str, marks: Marks, *, seen: Seen | None = None
) -> None:
    """The platform's inbound deliveries whose kept answer names them (`bot.services.inbound`: a
    redelivery check of minutes, not scoped to a workspace, since a delivery is claimed before Relais
    knows whose it is): their id and name, each as a whole word, replaced in the answer, and the claim
    kept, so that a resent delivery still does not run twice. Nothing else changes: a longer id or name
    (someone else's, in any tenant) is not a match, and no other delivery's claim is dropped."""
    words = Marks({**marks.names, **marks.ids}, {})
    rows = await session.scalars(
        select(InboundDelivery).where(
            InboundDelivery.platform == platform,
            _deliveries_among(seen),
            _mentions(InboundDelivery.answer, marks),
        )
    )
    for row in rows:
        if _holds(row.answer, words):
            row.answer = scrubbed(row.answer, words)
    await session.flush()


async def erasures(session: AsyncSession, *, workspace_id: int) -> int:
    """How many of the workspace's members erased their data: what admins are told (never who)."""
    found = await session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.workspace_id == workspace_id, Member.erased_at.is_not(None))
    )
    return int(found or 0)
