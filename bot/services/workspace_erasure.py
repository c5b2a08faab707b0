"""Removing a whole workspace's data: `relais erase-workspace`, and the hourly retention job's removal of a
workspace the Slack app was uninstalled from more than `UNINSTALLED_KEPT` ago (a reinstall before then
clears the mark, `bot.services.installs`, and keeps everything).

What goes: every row of every table scoped to the workspace (found in the models' metadata by their
`workspace_id` column, so that a table added later is covered without a change here), children before
parents, `BATCH` rows per short transaction, so that a big workspace never holds the database's write lock
(SQLite's: the whole database's) for long; then the workspace's own Slack installation (its bot token and
who installed it). The members' social tokens are revoked at the networks that allow it first
(`bot.services.erasure.revoke_tokens`), outside any transaction, each batch of connections deleted right
after its revocation; with `files`, the files Relais sent members are deleted at the platform the same way.

What stays: the workspace row itself, bare (its platform, its team or tenant id, its Enterprise Grid
organisation, its uninstall mark and when it was removed; no name, channel, time zone or settings), so
that a process that met the workspace keeps a valid id for it (`bot.services.hotpath` keeps it for the
process's life) and a reinstall starts afresh on the same row. It names no person. A workspace removed
while served (`--force`) that had its own Slack installation is marked uninstalled too: without its
installation nothing can serve it, so it waits, as an uninstalled workspace does, for a reinstall
(`bot.services.installs` clears the mark); one served without (single-workspace mode's bot token, an
Enterprise Grid organisation's installation, a Teams tenant) goes on being served, its people starting
afresh on their next use.

Each batch's transaction first reads the uninstall mark, locked (`uninstalled`): a reinstall, which clears
the mark in its own transaction, waits for the batch's commit and the next batch sees it, so a removal
never deletes a fresh installation or rows of a workspace installed again.

Not the workspace's, so not touched: an Enterprise Grid organisation's installation (it serves the
organisation's other workspaces), the install flow's states and the sign-in attempts (they belong to no
workspace and expire within minutes), the visitor salts (the install's), and the inbound delivery claims
(any platform's, forgotten after a day: `bot.services.inbound`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.fernet import MultiFernet
from sqlalchemy import ColumnElement, Table, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import erasure, members
from bot.social import SocialClient
from models import Base, Member, Network, Platform, SentFile, SlackInstallation, SocialAccount, Workspace

logger = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]

BATCH: Final = 2_000  # rows per transaction: a few milliseconds of the write lock
CONNECTIONS_BATCH: Final = 100  # members whose tokens are revoked, then deleted, at a time
# How long a workspace the app was uninstalled from keeps its data, for a reinstall (an uninstall by
# mistake, a re-authorisation): then the retention job removes it.
UNINSTALLED_KEPT: Final = timedelta(days=30)


@dataclass(frozen=True)
class Tokens:
    """What revokes members' social tokens: the install's key (`ENCRYPTION_KEY`) and the networks'
    clients. Without it, tokens are deleted without being revoked."""

    cipher: MultiFernet | None
    clients: Mapping[Network, SocialClient]


@dataclass
class WorkspaceErased:
    """What one removal did, as counts (never names): rows deleted per table, tokens the networks
    confirmed revoked, files deleted at the platform. `complete` False: it stopped because the workspace
    no longer met its condition (installed again meanwhile); what was deleted until then is gone."""

    rows: dict[str, int] = field(default_factory=dict)
    revoked: int = 0
    files: int = 0
    complete: bool = True
    # Marked uninstalled by this removal: it was served through its own Slack installation, deleted with
    # its data, so only a reinstall serves it again (see the module's docstring).
    uninstalled: bool = False

    def lines(self) -> list[str]:
        """`table: n` for each table that held rows, then the revocations (what the command prints)."""
        counted = [f"{table}: {count}" for table, count in sorted(self.rows.items()) if count]
        return [*counted, f"tokens revoked: {self.revoked}", f"files deleted at the platform: {self.files}"]

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def _add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count


def scoped_tables() -> list[Table]:
    """Every table scoped to a workspace (a `workspace_id` column), children before parents (the
    metadata's order reversed), so that each batch deletes only its own rows and cascades to none."""
    return [
        table
        for table in reversed(Base.metadata.sorted_tables)
        if "workspace_id" in table.c and table.name != Workspace.__tablename__
    ]


def kept(now: datetime) -> ColumnElement[bool]:
    """The workspaces whose data is kept at `now`: served, or uninstalled less than `UNINSTALLED_KEPT`
    ago (what the retention job's other work looks at: a removed workspace is not swept again)."""
    return Workspace.uninstalled_at.is_(None) | (Workspace.uninstalled_at >= now - UNINSTALLED_KEPT)


async def has_files(session: AsyncSession, workspace_id: int) -> bool:
    """Whether Relais remembers files it sent the workspace's members (deleted at the platform only with
    its token: a workspace still installed)."""
    found = await session.scalar(select(SentFile.id).where(SentFile.workspace_id == workspace_id).limit(1))
    return found is not None


Condition = Callable[[AsyncSession], Awaitable[bool]]


def uninstalled(workspace_id: int, *, before: datetime | None = None) -> Condition:
    """The condition of a removal that must not touch a served workspace: it is still marked uninstalled
    (before `before`, when given), checked first in each batch's transaction and held until its end: on
    PostgreSQL the workspace row is read `FOR UPDATE` (a reinstall clearing the mark waits for the
    batch's commit; one that committed first is seen), on SQLite the transaction is begun `IMMEDIATE`
    (the database's write lock, which a reinstall needs too)."""

    async def holds(session: AsyncSession) -> bool:
        query = select(Workspace.uninstalled_at).where(Workspace.id == workspace_id)
        if session.get_bind().dialect.name == "postgresql":
            # NO KEY UPDATE: still exclusive against a reinstall's, but not against the key-share
            # locks inserting a child row takes (a link visit), which FOR UPDATE would block.
            query = query.with_for_update(key_share=True)
        else:
            await members._begin_immediate(session)
        mark = await session.scalar(query)
        return mark is not None and (before is None or mark < before)

    return holds


async def erase_workspace(
    sessions: Sessions,
    workspace_id: int,
    *,
    tokens: Tokens | None,
    condition: Condition | None,
    now: datetime,
    files: erasure.DeletesFiles | None = None,
    batch: int = BATCH,
) -> WorkspaceErased:
    """Remove the workspace's data (see the module's docstring) at `now` (its removal and, if it comes
    to that, uninstall time). `condition` (e.g. `uninstalled`) is checked before each batch; None:
    removed whatever its state (`relais erase-workspace --force`). Network calls (revocations, file
    deletions) are made between transactions, never inside one."""
    done = WorkspaceErased()
    done.complete = (
        await _connections(sessions, workspace_id, tokens, condition, done)
        and await _files(sessions, workspace_id, files, condition, done, batch)
        and await _tables(sessions, workspace_id, condition, done, batch)
        and await _workspace_row(sessions, workspace_id, condition, done, now)
    )
    return done


async def _connections(
    sessions: Sessions, workspace_id: int, tokens: Tokens | None, condition: Condition | None,
    done: WorkspaceErased,
) -> bool:  # fmt: skip
    """The members' connections, `CONNECTIONS_BATCH` members at a time: their tokens read (encrypted)
    and revoked at the network, then those rows deleted (a connection made meanwhile is in a next batch,
    revoked too). False when `condition` stopped it."""
    while True:
        async with sessions() as session:
            if condition is not None and not await condition(session):
                return False
            member_ids = list(
                await session.scalars(
                    select(SocialAccount.member_id)
                    .where(SocialAccount.workspace_id == workspace_id)
                    .group_by(SocialAccount.member_id)
                    .order_by(SocialAccount.member_id)
                    .limit(CONNECTIONS_BATCH)
                )
            )
            if not member_ids:
                return True
            account_ids = list(
                await session.scalars(
                    select(SocialAccount.id).where(
                        SocialAccount.workspace_id == workspace_id, SocialAccount.member_id.in_(member_ids)
                    )
                )
            )
            members = await session.scalars(
                select(Member).where(Member.workspace_id == workspace_id, Member.id.in_(member_ids))
            )
            targets = [await erasure.target_of(session, member) for member in members.all()]
            await session.rollback()
        if tokens is not None:
            for target in targets:
                done.revoked += await erasure.revoke_tokens(
                    target, cipher=tokens.cipher, clients=tokens.clients
                )
        async with sessions() as session:
            gone = await session.execute(
                delete(SocialAccount).where(
                    SocialAccount.workspace_id == workspace_id, SocialAccount.id.in_(account_ids)
                )
            )
            await session.commit()
        done._add(SocialAccount.__tablename__, _count(gone))


async def _files(
    sessions: Sessions, workspace_id: int, files: erasure.DeletesFiles | None, condition: Condition | None,
    done: WorkspaceErased, batch: int,
) -> bool:  # fmt: skip
    """With `files`, the files Relais sent members deleted at the platform, then their rows; without,
    their rows go with the other tables."""
    if files is None:
        return True
    while True:
        async with sessions() as session:
            if condition is not None and not await condition(session):
                return False
            rows = (
                await session.execute(
                    select(SentFile.id, SentFile.file_id)
                    .where(SentFile.workspace_id == workspace_id)
                    .order_by(SentFile.id)
                    .limit(batch)
                )
            ).all()
            await session.rollback()
        if not rows:
            return True
        # A file the platform failed to delete is not tried again: its id goes with the workspace's data.
        done.files += len(await files.delete_files(workspace_id, [file_id for _, file_id in rows]))
        async with sessions() as session:
            gone = await session.execute(
                delete(SentFile).where(
                    SentFile.workspace_id == workspace_id, SentFile.id.in_([row_id for row_id, _ in rows])
                )
            )
            await session.commit()
        done._add(SentFile.__tablename__, _count(gone))


async def _tables(
    sessions: Sessions, workspace_id: int, condition: Condition | None, done: WorkspaceErased, batch: int
) -> bool:
    """Every scoped table's rows of the workspace, table by table (`scoped_tables`)."""
    for table in scoped_tables():
        if not await _table(sessions, workspace_id, table, condition, done, batch):
            return False
    return True


async def _table(
    sessions: Sessions, workspace_id: int, table: Table, condition: Condition | None, done: WorkspaceErased,
    batch: int,
) -> bool:  # fmt: skip
    """Delete the workspace's rows of `table`, `batch` at a time, each batch one statement in its own
    transaction (chosen by primary key, through the table's `workspace_id` index)."""
    key = list(table.primary_key.columns)
    ours = table.c.workspace_id == workspace_id
    chosen = select(*key).where(ours).limit(batch)
    picked = key[0].in_(chosen) if len(key) == 1 else tuple_(*key).in_(chosen)
    while True:
        async with sessions() as session:
            if condition is not None and not await condition(session):
                return False
            gone = _count(await session.execute(delete(table).where(ours, picked)))
            await session.commit()
        if not gone:
            return True
        done._add(table.name, gone)


async def _workspace_row(
    sessions: Sessions, workspace_id: int, condition: Condition | None, done: WorkspaceErased, now: datetime
) -> bool:
    """Last, in one transaction: the workspace's own Slack installation (not an organisation's), and the
    workspace row left bare, stamped removed; marked uninstalled too when it was served through that
    installation (see the module's docstring)."""
    async with sessions() as session:
        if condition is not None and not await condition(session):
            return False
        workspace = await session.get_one(Workspace, workspace_id)
        installation = 0
        if workspace.platform == Platform.SLACK.value:
            installation = _count(
                await session.execute(
                    delete(SlackInstallation).where(SlackInstallation.team_id == workspace.external_id)
                )
            )
            done._add(SlackInstallation.__tablename__, installation)
        marks: dict[str, Any] = {"removed_at": now, "updated_at": now}
        if installation and workspace.uninstalled_at is None:
            marks["uninstalled_at"], done.uninstalled = now, True
        await session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_id)
            .values(name=None, default_channel=None, timezone="UTC", settings={}, **marks)
        )
        await session.commit()
    return True


@dataclass(frozen=True)
class Removed:
    """What the retention job's removal did: workspaces removed, and the rows, tokens they held."""

    workspaces: int = 0
    rows: int = 0
    revoked: int = 0

    def summary(self) -> str:
        return (
            f"{self.workspaces} workspaces uninstalled for over {UNINSTALLED_KEPT.days} days removed "
            f"({self.rows} rows, {self.revoked} tokens revoked)"
        )


async def remove_uninstalled(
    sessions: Sessions, *, now: datetime, tokens: Tokens | None, batch: int = BATCH
) -> Removed:
    """The retention job's part: every workspace uninstalled more than `UNINSTALLED_KEPT` before `now`
    and not removed since (`Workspace.removed_at`) is removed (each batch checks it is still uninstalled
    since then: a reinstall meanwhile stops it). One workspace failing does not stop the others (logged;
    the next run takes it up again)."""
    before = now - UNINSTALLED_KEPT
    async with sessions() as session:
        due = list(
            await session.scalars(
                select(Workspace.id)
                .where(
                    Workspace.uninstalled_at.is_not(None),
                    Workspace.uninstalled_at < before,
                    # Equal: `--force` marked it uninstalled as it removed it; what other processes
                    # wrote while they still held its installation is looked for once more.
                    Workspace.removed_at.is_(None) | (Workspace.removed_at <= Workspace.uninstalled_at),
                )
                .order_by(Workspace.id)
            )
        )
        await session.rollback()
    removed = Removed()
    for workspace_id in due:
        try:
            if not await _holds_rows(sessions, workspace_id):
                # Nothing to remove (met but never used, or removed before removals were stamped): stamped,
                # so that the next runs do not look at it again.
                await _stamp_removed(sessions, workspace_id, before=before, now=now)
                continue
            done = await erase_workspace(
                sessions,
                workspace_id,
                tokens=tokens,
                condition=uninstalled(workspace_id, before=before),
                now=now,
                batch=batch,
            )
        except Exception:
            logger.exception("removing uninstalled workspace %s failed; the next run goes on", workspace_id)
            continue
        if done.complete:
            logger.info(
                "workspace %s, uninstalled for over %s days, removed", workspace_id, UNINSTALLED_KEPT.days
            )
        removed = Removed(
            removed.workspaces + int(done.complete), removed.rows + done.total, removed.revoked + done.revoked
        )
    return removed


async def _stamp_removed(sessions: Sessions, workspace_id: int, *, before: datetime, now: datetime) -> None:
    """The workspace, holding nothing, is marked removed at `now`, if still uninstalled before `before`."""
    async with sessions() as session:
        await session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_id, Workspace.uninstalled_at < before)
            .values(removed_at=now)
        )
        await session.commit()


async def _holds_rows(sessions: Sessions, workspace_id: int) -> bool:
    """Whether the workspace still holds anything: a row in a scoped table, or its own settings (a removed
    workspace is only its bare row). Its installation was deleted when it was uninstalled."""
    async with sessions() as session:
        workspace = await session.get_one(Workspace, workspace_id)
        if workspace.name is not None or workspace.default_channel is not None or workspace.settings:
            return True
        for table in scoped_tables():
            ours = select(table.c.workspace_id).where(table.c.workspace_id == workspace_id).limit(1)
            if await session.scalar(ours) is not None:
                return True
    return False


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
