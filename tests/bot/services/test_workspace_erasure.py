"""The workspace removal's transactions (`bot.services.workspace_erasure`): a big workspace goes in
batches, each its own short transaction (never one statement over the whole workspace), and a reinstall
while a removal is under way stops it at the next batch, keeping what is left."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import await_only

from bot.services import workspace_erasure
from models import Click, Member, SlackInstallation, Workspace
from tests.bot.test_erase_workspace import CREATED, UNINSTALLED, _install, _installs, _seed
from tests.fakes.social import FakeX
from tests.handlers.teams.test_click_writes import statements

Sessions = async_sessionmaker[AsyncSession]

LATE = UNINSTALLED + workspace_erasure.UNINSTALLED_KEPT + timedelta(hours=1)  # Globex's removal is due


async def _one_workspace(sessions: Sessions, x: FakeX, *, clicks: int) -> int:
    async with sessions() as session:
        seeded = await _seed(session, x, platform="slack", team="TBIG", tag="big")
        link_id = await session.scalar(select(Click.link_id).where(Click.workspace_id == seeded.workspace_id))
        session.add_all(
            Click(workspace_id=seeded.workspace_id, link_id=link_id, at=CREATED) for _ in range(clicks - 1)
        )
        await session.commit()
    await _installs(sessions, CREATED).save(_install("TBIG", CREATED))
    assert await _installs(sessions, UNINSTALLED).uninstall(
        enterprise_id=None, team_id="TBIG", org_wide=False
    )
    return seeded.workspace_id


async def test_a_big_workspace_goes_in_batches_each_its_own_transaction(
    engine: AsyncEngine, sessions: Sessions, x: FakeX
) -> None:
    workspace_id = await _one_workspace(sessions, x, clicks=7)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    def commit(_conn: Any) -> None:
        statements.append("COMMIT")

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    event.listen(engine.sync_engine, "commit", commit)
    try:
        done = await workspace_erasure.erase_workspace(
            sessions,
            workspace_id,
            tokens=None,
            condition=workspace_erasure.uninstalled(workspace_id),
            now=LATE,
            batch=3,
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        event.remove(engine.sync_engine, "commit", commit)
    assert done.complete
    assert done.rows["click"] == 7
    # 3, 3, 1, then none left: each DELETE bounded by the batch, each followed by its own commit.
    deletes = [i for i, sql in enumerate(statements) if sql.startswith("DELETE FROM click")]
    assert len(deletes) == 4
    assert all("LIMIT" in statements[i] for i in deletes)
    for i in deletes:
        assert "COMMIT" in statements[i + 1 : i + 3], statements[i : i + 3]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Click)) == 0


async def test_a_reinstall_during_a_removal_stops_it_at_the_next_batch(sessions: Sessions, x: FakeX) -> None:
    workspace_id = await _one_workspace(sessions, x, clicks=5)
    still = workspace_erasure.uninstalled(workspace_id)
    checks = 0

    async def reinstalled_after_a_few_batches(session: AsyncSession) -> bool:
        nonlocal checks
        checks += 1
        if checks == 4:  # the app is installed again (another process) between two batches
            await _installs(sessions, UNINSTALLED).save(_install("TBIG", UNINSTALLED))
        return await still(session)

    done = await workspace_erasure.erase_workspace(
        sessions, workspace_id, tokens=None, condition=reinstalled_after_a_few_batches, now=LATE, batch=2
    )
    assert not done.complete
    assert done.total > 0  # some rows went before the reinstall
    async with sessions() as session:
        workspace = await session.get_one(Workspace, workspace_id)
        assert workspace.uninstalled_at is None
        assert workspace.name == "TBIG (Slack)"
        assert await session.scalar(select(func.count()).select_from(Member)) == 2
        assert (await session.scalars(select(SlackInstallation.team_id))).all() == ["TBIG"]


async def _waits(engine: AsyncEngine, task: asyncio.Task[None]) -> bool:
    """Whether `task`, a writer, must wait now. On PostgreSQL: wait until it finished or a connection of
    this database waits on a lock (PostgreSQL's own view of its sessions), True when it was waiting
    (bounded by a timeout, never by a guessed delay). On SQLite: whether the database's write lock is
    held (a writer cannot even begin), which `task` then waits for (busy_timeout)."""
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        else:
            probe.execute("ROLLBACK")
            return False
        finally:
            probe.close()
    async with asyncio.timeout(30), engine.connect() as watcher:
        while not task.done():
            waiting = await watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            await watcher.rollback()
            if waiting:
                return True
            await asyncio.sleep(0.01)
    return False


@pytest.mark.parametrize(
    ("held_at", "complete"),
    [
        ("delete from click", False),  # a batch of a table: the removal stops at the next batch
        ("delete from slack_installation", True),  # the last batch: done, the fresh installation kept
    ],
)
async def test_a_reinstall_during_a_batch_waits_for_its_commit_and_keeps_its_installation(
    engine: AsyncEngine, sessions: Sessions, x: FakeX, held_at: str, complete: bool
) -> None:
    """A batch has checked that the workspace is still uninstalled and is about to delete; the app is
    installed again right then (another process). The reinstall waits for the batch's commit (PostgreSQL:
    the workspace row is locked; SQLite: the batch holds the write lock from its check on), so the batch
    never deletes what the reinstall brought (its installation) and the next batch sees it."""
    workspace_id = await _one_workspace(sessions, x, clicks=5)
    reinstall: asyncio.Task[None] | None = None
    waited: list[bool] = []

    def hold(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal reinstall
        if reinstall is None and " ".join(statement.split()).lower().startswith(held_at):
            reinstall = asyncio.get_running_loop().create_task(
                _installs(sessions, LATE).save(_install("TBIG", LATE))
            )
            # Inside the batch's transaction, just before its DELETE: the reinstall runs meanwhile.
            waited.append(await_only(_waits(engine, reinstall)))

    event.listen(engine.sync_engine, "before_cursor_execute", hold)
    try:
        done = await workspace_erasure.erase_workspace(
            sessions,
            workspace_id,
            tokens=None,
            condition=workspace_erasure.uninstalled(workspace_id),
            now=LATE,
            batch=2,
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", hold)
    assert reinstall is not None
    await reinstall
    assert waited == [True]  # the reinstall waited for the batch's commit
    async with sessions() as session:
        assert (await session.scalars(select(SlackInstallation.team_id))).all() == ["TBIG"]
        workspace = await session.get_one(Workspace, workspace_id)
        assert workspace.uninstalled_at is None
        assert workspace.name == "TBIG (Slack)"
        clicks = await session.scalar(select(func.count()).select_from(Click))
    assert done.rows["click"] >= 2  # the held batch's went, before the reinstall
    if complete:  # the held batch was the last: the removal was done, then the app installed again
        assert done.complete
        assert clicks == 0
    # Else the removal stops at the first batch after the reinstall's commit. Which batch that is, the
    # databases do not promise: a batch beginning as the held one commits may take the lock before the
    # waiting reinstall (PostgreSQL wakes its waiters to race for a row lock a committed transaction left;
    # SQLite's busy wait retries by itself), as if the reinstall came a little later; never inside one.


async def test_a_removed_workspace_is_not_looked_at_again_until_uninstalled_again(
    engine: AsyncEngine, sessions: Sessions, x: FakeX
) -> None:
    """The retention job's removal, hour after hour: a workspace it removed (only its bare row left) costs
    the next runs nothing but the query of due workspaces; installed and uninstalled again, it is due
    again 30 days later. A workspace uninstalled holding nothing is stamped once, never probed again."""
    workspace_id = await _one_workspace(sessions, x, clicks=2)
    async with sessions() as session:
        empty = Workspace(platform="slack", external_id="TEMPTY", timezone="UTC", settings={},
                          uninstalled_at=UNINSTALLED, created_at=CREATED, updated_at=CREATED)  # fmt: skip
        session.add(empty)
        await session.commit()

    first = await workspace_erasure.remove_uninstalled(sessions, now=LATE, tokens=None)
    assert (first.workspaces, first.rows > 0) == (1, True)
    for hour in (1, 2):
        with statements(engine) as seen:
            again = await workspace_erasure.remove_uninstalled(
                sessions, now=LATE + timedelta(hours=hour), tokens=None
            )
        assert again == workspace_erasure.Removed()
        assert len(seen) == 1, seen  # the due workspaces' query: none due, nothing probed
        assert seen[0].startswith("select workspace.id from workspace")

    # Installed again, used, uninstalled again: due 30 days after that uninstall, and removed again.
    reinstalled = LATE + timedelta(days=1)
    await _installs(sessions, reinstalled).save(_install("TBIG", reinstalled))
    async with sessions() as session:
        session.add(Member(workspace_id=workspace_id, external_id="UNEW", display_name="New",
                           created_at=reinstalled, updated_at=reinstalled))  # fmt: skip
        await session.commit()
    assert await _installs(sessions, reinstalled).uninstall(
        enterprise_id=None, team_id="TBIG", org_wide=False
    )
    early = reinstalled + workspace_erasure.UNINSTALLED_KEPT - timedelta(hours=1)
    assert (
        await workspace_erasure.remove_uninstalled(sessions, now=early, tokens=None)
        == workspace_erasure.Removed()
    )
    due = reinstalled + workspace_erasure.UNINSTALLED_KEPT + timedelta(hours=1)
    assert (await workspace_erasure.remove_uninstalled(sessions, now=due, tokens=None)).workspaces == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 0
        removed = await session.get_one(Workspace, workspace_id)
        assert (removed.uninstalled_at, removed.removed_at) == (reinstalled, due)
