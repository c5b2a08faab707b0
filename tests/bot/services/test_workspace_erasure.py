"""The workspace removal's transactions (`bot.services.workspace_erasure`): a big workspace goes in
batches, each its own short transaction (never one statement over the whole workspace), and a reinstall
while a removal is under way stops it at the next batch, keeping what is left."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services import workspace_erasure
from models import Click, Member, SlackInstallation, Workspace
from tests.bot.test_erase_workspace import CREATED, UNINSTALLED, _install, _installs, _seed
from tests.fakes.social import FakeX

Sessions = async_sessionmaker[AsyncSession]


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
        sessions, workspace_id, tokens=None, condition=reinstalled_after_a_few_batches, batch=2
    )
    assert not done.complete
    assert done.total > 0  # some rows went before the reinstall
    async with sessions() as session:
        workspace = await session.get_one(Workspace, workspace_id)
        assert workspace.uninstalled_at is None
        assert workspace.name == "TBIG (Slack)"
        assert await session.scalar(select(func.count()).select_from(Member)) == 2
        assert (await session.scalars(select(SlackInstallation.team_id))).all() == ["TBIG"]
