"""Recording shares exactly once per member × post × network, durably, before Slack hears back.

A share click must be on disk before the ack (Slack never resends a button click), and many clicks
arrive at once. One SQLAlchemy session and commit per click tops out around 430 clicks/s on SQLite
with "database is locked" errors; so shares go through `ShareWriter`, a group commit: one task takes
every pending record from a queue and inserts the batch in one transaction with
`INSERT … ON CONFLICT DO NOTHING RETURNING` on the unique key, then wakes each waiting request with
whether its row was new. Double clicks, parallel clicks and Slack retries all land on the same key.
Each new share also queues, in that transaction, the edit of the member's sent reminders showing the
post (`shared_marks`): read and enqueue only, no network call.

The same batch does what else the click path would otherwise do in a session of its own per click
(docs/benchmarks.md: a session costs about a millisecond of CPU, the bare Bolt app a third of one): a
first contact's member row is created there (`ShareRecord.member`, Core `INSERT … ON CONFLICT DO
NOTHING` then one `SELECT` for those who existed), and the profiles read from the directory after the
acks are written there (`ProfileUpdate`), one `UPDATE` executed for many members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import language_for
from bot.services import shared_marks
from bot.services.hotpath import MemberRef
from bot.services.links import new_code
from bot.services.members import Profile, hold_live
from bot.services.posts import rotate_caption
from bot.services.shared_marks import NewShare
from models import Dismissal, Member, Network, Post, PostState, Share, ShareStatus, TrackedLink

logger = logging.getLogger(__name__)

MAX_BATCH: Final = 500


@dataclass(frozen=True)
class ShareRecord:
    """A share to record. `member_id` None: the member is known only by their platform id (`member`),
    and the writer finds or creates their row in its batch; the caption is then their variant of
    `captions` (the variant depends on the member's id). The chat flows always give `member`: a
    `member_id` this process remembered may name a row erased since (by another process too), and the
    writer then treats the record as a first contact (`_named`); a record naming an erased row and no
    platform id (a share link's) records nothing."""

    workspace_id: int
    member_id: int | None
    post_id: int
    network: Network
    status: ShareStatus
    at: datetime
    caption: str | None = None
    # The channel whose post card was clicked (None: a reminder or a personal link); written only when
    # this record creates the row: the first place counts.
    channel: str | None = None
    member: str | None = None
    captions: tuple[str, ...] = ()


@dataclass(frozen=True)
class DismissRecord:
    """A member's "Not for me" on a post, recorded once (`Dismissal`), with the same first-contact
    rule as `ShareRecord`: `member_id` None names the member by their platform id (`member`)."""

    workspace_id: int
    member_id: int | None
    post_id: int
    at: datetime
    member: str | None = None


@dataclass(frozen=True)
class LinkRequest:
    """A member's tracked link for a post on a network (`links.link_for`), created on first use; the
    same first-contact rule as `ShareRecord` (`member_id` None: the member named by `member`)."""

    workspace_id: int
    member_id: int | None
    post_id: int
    network: Network
    at: datetime
    member: str | None = None


@dataclass(frozen=True)
class LinkMade:
    """The code of the member's tracked link, and the member row a first-contact request was given."""

    code: str
    member: MemberRef | None = None


@dataclass(frozen=True)
class Recorded:
    """What recording a share did: `created`, whether this record created the row; `member`, the
    member's row as the batch found or created it (None when the record named its member by id);
    `live` False: the post was no longer published when the batch wrote (nothing recorded)."""

    created: bool
    member: MemberRef | None = None
    live: bool = True


@dataclass(frozen=True)
class ProfileUpdate:
    """What the directory said of a member (`profile` None: they are gone), to write on their row as
    `members.apply_profile` would: a value the directory left out keeps the row's."""

    workspace_id: int
    member_id: int
    profile: Profile | None
    at: datetime


Work = ShareRecord | DismissRecord | ProfileUpdate | LinkRequest
Record = ShareRecord | DismissRecord | LinkRequest
Key = tuple[int, int, Network]
Claim = tuple[int, int, Network | None]  # a share's key, or (member, post, None) for a "Not for me"


@dataclass
class _Pending:
    work: Work
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Batch:
    """One transaction's worth: the members each first-contact record resolved to, the shares it
    created, and each profile update's member as written."""

    members: dict[tuple[int, str], MemberRef] = field(default_factory=dict)
    created: set[Key] = field(default_factory=set)
    dismissed: set[tuple[int, int]] = field(default_factory=set)  # (member id, post id) created
    profiles: dict[int, MemberRef] = field(default_factory=dict)
    withdrawn: set[tuple[int, int]] = field(default_factory=set)  # (workspace id, post id) not published
    links: dict[tuple[int, int, Network], str] = field(default_factory=dict)  # (member, post, network): code
    erased: set[int] = field(default_factory=set)  # ids of erased members the batch's records named


class ShareWriter:
    """Group commit of share records. `await record(...)` returns once the row is committed: True if
    this call created it, False if it already existed. Start it with `start()`, stop with `stop()`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="relais-share-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def record(self, record: ShareRecord) -> bool:
        """Whether this record created the share (False: it existed), once committed."""
        return (await self.recorded(record)).created

    async def recorded(self, record: ShareRecord) -> Recorded:
        """`record`, also naming the member row a first-contact record was given."""
        result: Recorded = await self._submit(record)
        return result

    async def dismissed(self, record: DismissRecord) -> Recorded:
        """Record "Not for me" with the next batch: whether this record created it, and the member row
        of a first-contact record."""
        result: Recorded = await self._submit(record)
        return result

    async def link(self, request: LinkRequest) -> LinkMade:
        """The code of the member's tracked link for the post and network, created with the next batch
        when they have none (the same rule as `links.link_for`: concurrent requests agree)."""
        result: LinkMade = await self._submit(request)
        return result

    async def update_profile(self, update: ProfileUpdate) -> MemberRef | None:
        """Write a directory answer on the member's row with the next batch; the member as written (None
        when no such member is in that workspace)."""
        result: MemberRef | None = await self._submit(update)
        return result

    async def _submit(self, work: Work) -> Any:
        if self._task is None:
            raise RuntimeError("ShareWriter used before start()")
        pending = _Pending(work)
        await self._queue.put(pending)
        return await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                # Profiles in a transaction of their own: one the database refuses (a name too long
                # for its column) must not take the batch's shares down with it.
                for group in (
                    [p for p in batch if not isinstance(p.work, ProfileUpdate)],
                    [p for p in batch if isinstance(p.work, ProfileUpdate)],
                ):
                    if group:
                        await self._settle(group)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _settle(self, group: list[_Pending]) -> None:
        """Write `group` in one transaction and tell each waiting caller its outcome (or the failure)."""
        try:
            written = await self._write([p.work for p in group])
        except Exception as exc:
            logger.exception("writing %d share records or profiles failed", len(group))
            for pending in group:
                if not pending.done.done():
                    pending.done.set_exception(exc)
        else:
            claimed: set[Claim] = set()
            for pending in group:
                if pending.done.done():
                    continue
                try:
                    pending.done.set_result(_outcome(pending.work, written, claimed))
                except Exception as exc:  # one caller's outcome must never stop the writer for all
                    logger.exception("telling a caller the outcome of its share record failed")
                    pending.done.set_exception(exc)

    async def _write(self, batch: list[Work]) -> _Batch:
        records = [work for work in batch if isinstance(work, ShareRecord)]
        dismissals = [work for work in batch if isinstance(work, DismissRecord)]
        updates = [work for work in batch if isinstance(work, ProfileUpdate)]
        wanted = [work for work in batch if isinstance(work, LinkRequest)]
        written = _Batch()
        async with self._sessions() as session:
            written.erased = await _erased(session, [*records, *dismissals, *wanted])
            if written.erased:
                records = _kept([_named(r, written.erased) for r in records])
                dismissals = _kept([_named(r, written.erased) for r in dismissals])
                wanted = _kept([_named(r, written.erased) for r in wanted])
            first_contacts: list[Record] = [r for r in records if r.member_id is None]
            first_contacts += [r for r in dismissals if r.member_id is None]
            first_contacts += [r for r in wanted if r.member_id is None]
            written.members = await _members_of(session, first_contacts)
            written.withdrawn = await _withdrawn(session, [*records, *dismissals])
            records = [r for r in records if (r.workspace_id, r.post_id) not in written.withdrawn]
            dismissals = [r for r in dismissals if (r.workspace_id, r.post_id) not in written.withdrawn]
            if records:
                written.created = await _insert_shares(session, records, written.members)
            if dismissals:
                written.dismissed = await _insert_dismissals(session, dismissals, written.members)
            if updates:
                written.profiles = await _write_profiles(session, updates)
            if wanted:
                written.links = await _links_of(session, wanted, written.members)
            await session.commit()
        return written


async def withdraw(
    session: AsyncSession, *, workspace_id: int, member_id: int, post_id: int, network: Network | None
) -> None:
    """Delete the share opened on `network` (None: the "Not for me") that a click just recorded, before the
    ack, for someone the workspace's directory then said, after it, is no member of the workspace (unknown
    to it, or deactivated: `bot.flows.shares`); nobody was told of it yet. The caller commits."""
    if network is None:
        await session.execute(
            delete(Dismissal).where(
                Dismissal.workspace_id == workspace_id,
                Dismissal.member_id == member_id,
                Dismissal.post_id == post_id,
            )
        )
        return
    await session.execute(
        delete(Share).where(
            Share.workspace_id == workspace_id,
            Share.member_id == member_id,
            Share.post_id == post_id,
            Share.network == network,
            Share.status == ShareStatus.INTENT,
        )
    )


def _inserting(session: AsyncSession, table: Any, *returning: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING` with no values: executed with a list of rows, it is
    compiled once (SQLAlchemy's cache) and sent as multi-row INSERTs ("insertmanyvalues"), where a
    `values(rows)` statement of a new size each batch is compiled anew (1.7 against 0.7 ms of CPU for
    15 rows, SQLite and PostgreSQL alike)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing().returning(*returning)
    return sqlite_insert(table).on_conflict_do_nothing().returning(*returning)


def _outcome(work: Work, written: _Batch, claimed: set[Claim]) -> Recorded | LinkMade | MemberRef | None:
    """What one pending work's caller is told: for a share, whether it is the first of the batch's
    records for its key to have created the row (double clicks in one batch: only one did)."""
    if isinstance(work, ProfileUpdate):
        return written.profiles.get(work.member_id)
    work = _named(work, written.erased)
    if work.member_id is None and work.member is None:
        if isinstance(work, LinkRequest):
            raise LookupError("a tracked link was asked for an erased member")
        return Recorded(False)  # an erased member's share link: nothing recorded
    member = written.members.get((work.workspace_id, work.member or "")) if work.member_id is None else None
    if isinstance(work, LinkRequest):
        return LinkMade(
            written.links[(_member_id(work, written.members), work.post_id, work.network)], member
        )
    if (work.workspace_id, work.post_id) in written.withdrawn:
        return Recorded(False, member, live=False)
    if isinstance(work, DismissRecord):
        pair = (_member_id(work, written.members), work.post_id)
        first = pair in written.dismissed and (pair[0], pair[1], None) not in claimed
        claimed.add((pair[0], pair[1], None))
        return Recorded(first, member)
    key = _key(work, written.members)
    first = key in written.created and key not in claimed
    claimed.add(key)
    return Recorded(first, member)


R = TypeVar("R", bound=Record)


async def _erased(session: AsyncSession, records: Sequence[Record]) -> set[int]:
    """Which of the member ids the records name are erased members' (`bot.services.erasure`), the others
    held against an erasure until the batch commits (`members.hold_live`: one statement for the batch,
    the batch's first, by primary key), so that no process's memory of an erased member's row can
    attach anything to it, even if the erasure commits while the batch is being written."""
    named = {(r.workspace_id, r.member_id) for r in records if r.member_id is not None}
    if not named:
        return set()
    live = await hold_live(session, named)
    return {member_id for _, member_id in named if member_id not in live}


def _named(record: R, erased: set[int]) -> R:
    """`record` naming its member by platform id only when the row it names by id was erased."""
    return replace(record, member_id=None) if record.member_id in erased else record


def _kept(records: list[R]) -> list[R]:
    """The records still naming someone (by id or by platform id)."""
    return [r for r in records if r.member_id is not None or r.member is not None]


def _member_id(record: Record, members: dict[tuple[int, str], MemberRef]) -> int:
    if record.member_id is not None:
        return record.member_id
    return members[(record.workspace_id, record.member or "")].member_id


def _key(record: ShareRecord, members: dict[tuple[int, str], MemberRef]) -> Key:
    return (_member_id(record, members), record.post_id, record.network)


def _ref(row: Any) -> MemberRef:
    return MemberRef(
        row.workspace_id,
        row.id,
        language_for(chosen=row.language, locale=row.locale),
        row.admin_checked_at,
        row.active,
    )


_MEMBER_COLUMNS = (
    Member.id,
    Member.workspace_id,
    Member.external_id,
    Member.language,
    Member.locale,
    Member.admin_checked_at,
    Member.active,
)


async def _members_of(session: AsyncSession, records: list[Record]) -> dict[tuple[int, str], MemberRef]:
    """The member row of each first-contact record, created when missing (concurrent batches of two
    processes agree: the unique key decides). New rows come back from the INSERT; the rest (members
    this process had not met yet) from one SELECT per workspace, scoped to it."""
    wanted: dict[tuple[int, str], datetime] = {}
    for record in records:
        assert record.member is not None, "a share record names its member by id or by platform id"
        wanted.setdefault((record.workspace_id, record.member), record.at)
    if not wanted:
        return {}
    rows = [
        {"workspace_id": workspace_id, "external_id": external_id, "created_at": at, "updated_at": at}
        for (workspace_id, external_id), at in wanted.items()
    ]
    inserted = await session.execute(_inserting(session, Member.__table__, *_MEMBER_COLUMNS), rows)
    found = {(row.workspace_id, row.external_id): _ref(row) for row in inserted}
    existing: dict[int, list[str]] = {}
    for workspace_id, external_id in wanted.keys() - found.keys():
        existing.setdefault(workspace_id, []).append(external_id)
    for workspace_id, external_ids in existing.items():
        known = await session.execute(
            select(*_MEMBER_COLUMNS).where(
                Member.workspace_id == workspace_id, Member.external_id.in_(external_ids)
            )
        )
        found.update({(row.workspace_id, row.external_id): _ref(row) for row in known})
    return found


async def _withdrawn(
    session: AsyncSession, records: Sequence[ShareRecord | DismissRecord]
) -> set[tuple[int, int]]:
    """The batch's posts that are no longer published, as (workspace id, post id): one SELECT per
    workspace. The click path decided from a post state kept in memory for a moment
    (`hotpath.POST_TTL_SECONDS`); another process may have cancelled or expired the post since, and a
    cancelled or expired post takes no new share and no "Not for me"."""
    wanted: dict[int, set[int]] = {}
    for record in records:
        wanted.setdefault(record.workspace_id, set()).add(record.post_id)
    withdrawn: set[tuple[int, int]] = set()
    for workspace_id, post_ids in wanted.items():
        live = set(
            await session.scalars(
                select(Post.id).where(
                    Post.workspace_id == workspace_id,
                    Post.id.in_(post_ids),
                    Post.state == PostState.PUBLISHED,
                )
            )
        )
        withdrawn.update((workspace_id, post_id) for post_id in post_ids - live)
    return withdrawn


async def _insert_shares(
    session: AsyncSession, batch: list[ShareRecord], members: dict[tuple[int, str], MemberRef]
) -> set[Key]:
    """The batch's shares, each key once; the keys this transaction created."""
    records: dict[Key, ShareRecord] = {}
    for record in batch:
        records.setdefault(_key(record, members), record)
    rows = []
    for (member_id, post_id, network), r in records.items():
        caption = r.caption
        if r.member_id is None:
            caption = rotate_caption(r.captions, post_id=post_id, member_id=member_id)
        rows.append(
            {
                "workspace_id": r.workspace_id,
                "member_id": member_id,
                "post_id": post_id,
                "network": network,
                "status": r.status,
                "caption": caption,
                "channel": r.channel,
                "attempts": 0,
                "intent_at": r.at if r.status is ShareStatus.INTENT else None,
                "created_at": r.at,
                "updated_at": r.at,
            }
        )
    statement = _inserting(session, Share.__table__, Share.member_id, Share.post_id, Share.network)
    result = await session.execute(statement, rows)
    created = {(row.member_id, row.post_id, Network(row.network)) for row in result}
    if created:
        # The member's sent reminders showing the post say so from now on: queued in this same
        # transaction, so a share is never recorded without it.
        new = [(key[0], records[key]) for key in created]
        await shared_marks.mark_shared(
            session,
            [NewShare(r.workspace_id, member_id, r.post_id, r.network) for member_id, r in new],
            now=max(r.at for _, r in new),
        )
    return created


async def _insert_dismissals(
    session: AsyncSession, batch: list[DismissRecord], members: dict[tuple[int, str], MemberRef]
) -> set[tuple[int, int]]:
    """The batch's "Not for me", each (member, post) once; those this transaction created, each
    marked in the member's sent reminders in the same transaction (`shared_marks.mark_dismissed`)."""
    records: dict[tuple[int, int], DismissRecord] = {}
    for record in batch:
        records.setdefault((_member_id(record, members), record.post_id), record)
    rows = [
        {"workspace_id": r.workspace_id, "member_id": member_id, "post_id": post_id, "created_at": r.at}
        for (member_id, post_id), r in records.items()
    ]
    result = await session.execute(
        _inserting(session, Dismissal.__table__, Dismissal.member_id, Dismissal.post_id), rows
    )
    created = {(row.member_id, row.post_id) for row in result}
    for member_id, post_id in sorted(created):
        r = records[(member_id, post_id)]
        await shared_marks.mark_dismissed(
            session, workspace_id=r.workspace_id, member_id=member_id, post_id=post_id, now=r.at
        )
    return created


async def _links_of(
    session: AsyncSession, requests: list[LinkRequest], members: dict[tuple[int, str], MemberRef]
) -> dict[tuple[int, int, Network], str]:
    """The code of each requested link: new ones come back from the INSERT, those that existed (or that
    another process created at the same time) from one SELECT per workspace, scoped to it."""
    wanted = {(r.workspace_id, _member_id(r, members), r.post_id, r.network): r for r in requests}
    rows = [
        {
            "workspace_id": workspace_id,
            "post_id": post_id,
            "member_id": member_id,
            "network": network,
            "code": new_code(),
            "created_at": r.at,
        }
        for (workspace_id, member_id, post_id, network), r in wanted.items()
    ]
    columns = (TrackedLink.member_id, TrackedLink.post_id, TrackedLink.network, TrackedLink.code)
    inserted = await session.execute(_inserting(session, TrackedLink.__table__, *columns), rows)
    codes = {(row.member_id, row.post_id, Network(row.network)): row.code for row in inserted}
    missing: dict[int, list[tuple[int, int, Network]]] = {}
    for workspace_id, member_id, post_id, network in wanted:
        if (member_id, post_id, network) not in codes:
            missing.setdefault(workspace_id, []).append((member_id, post_id, network))
    for workspace_id, keys in missing.items():
        found = await session.execute(
            select(*columns).where(
                TrackedLink.workspace_id == workspace_id,
                TrackedLink.member_id.in_({k[0] for k in keys}),
                TrackedLink.post_id.in_({k[1] for k in keys}),
            )
        )
        codes.update({(row.member_id, row.post_id, Network(row.network)): row.code for row in found})
    return codes


_PROFILE_UPDATE = (
    update(cast(Table, Member.__table__))
    .where(
        Member.id == bindparam("m_id"),
        Member.workspace_id == bindparam("m_workspace"),
        Member.erased_at.is_(None),  # an erased member's row takes no profile again
        # An answer read before a newer one was written (another path, another process) is not
        # written over it: an admin removed in Slack must not become one again.
        or_(Member.admin_checked_at.is_(None), Member.admin_checked_at <= bindparam("m_at")),
    )
    .values(
        display_name=func.coalesce(bindparam("m_name"), Member.display_name),
        locale=func.coalesce(bindparam("m_locale"), Member.locale),
        timezone=func.coalesce(bindparam("m_timezone"), Member.timezone),
        is_admin=func.coalesce(bindparam("m_admin"), Member.is_admin),
        active=bindparam("m_active"),
        admin_checked_at=bindparam("m_at"),
        updated_at=bindparam("m_at"),
    )
)


async def _write_profiles(session: AsyncSession, updates: list[ProfileUpdate]) -> dict[int, MemberRef]:
    """Each directory answer on its member's row: one UPDATE executed for all of them (the last answer
    of a member wins), then the rows as written, read back in one SELECT per workspace."""
    latest = {(u.workspace_id, u.member_id): u for u in updates}
    await session.execute(
        _PROFILE_UPDATE,
        [
            {
                "m_id": u.member_id,
                "m_workspace": u.workspace_id,
                "m_name": u.profile.display_name if u.profile else None,
                "m_locale": u.profile.locale if u.profile else None,
                "m_timezone": u.profile.timezone if u.profile else None,
                "m_admin": u.profile.is_admin if u.profile else None,
                "m_active": u.profile.active if u.profile else False,
                "m_at": u.at,
            }
            for u in latest.values()
        ],
    )
    by_workspace: dict[int, list[int]] = {}
    for workspace_id, member_id in latest:
        by_workspace.setdefault(workspace_id, []).append(member_id)
    written: dict[int, MemberRef] = {}
    for workspace_id, member_ids in by_workspace.items():
        rows = await session.execute(
            select(*_MEMBER_COLUMNS).where(
                Member.workspace_id == workspace_id, Member.id.in_(member_ids), Member.erased_at.is_(None)
            )
        )
        written.update({row.id: _ref(row) for row in rows})
    return written
