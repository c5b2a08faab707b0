"""`/relais me` ranks from a snapshot of everyone's points (`settled_points`), corrected by the members whose
shares changed since and folded into it once they are many: the rank a member reads is still exact as
shares arrive, hours apart, and the snapshot ends equal to the points counted from every row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.workspace import SlackDriver, eventually
from bot.services import scores
from models import Delivery, PointsRefresh, SettledPoints

Sessions = async_sessionmaker[AsyncSession]


async def _open(slack: SlackDriver, user: str, network: str) -> None:
    """The member opens their share link of post 1 (an intent share, 3 points, recorded before the ack)."""
    sent = await slack.click(user, f"open_share_{network}", f"1:{network}", ephemeral=True)
    assert sent.status == 200
    await slack.responses(sent.url_id)


async def _snapshot(sessions: Sessions) -> dict[int, int]:
    async with sessions() as session:
        rows = await session.execute(select(SettledPoints.member_id, SettledPoints.points))
        return {int(row[0]): int(row[1]) for row in rows}


async def test_me_rank_stays_exact_as_the_snapshot_moves_on(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await slack.command("UADMIN", f"queue <{article}/launch> <#C0NEWS|news>")

    async def pushed() -> bool:
        async with sessions() as session:
            return await session.scalar(select(Delivery.id)) is not None

    await eventually(pushed)  # post 1 is published: its share links can be opened
    await _open(slack, "UEMP3", "linkedin")
    await _open(slack, "UEMP3", "x")
    await _open(slack, "UEMP2", "x")

    bob = await slack.command("UEMP2", "me")  # the first look builds the snapshot
    assert "Points: 3" in bob["text"]
    assert "Rank: 2 of 2 participants" in bob["text"]
    assert sorted((await _snapshot(sessions)).values()) == [3, 6]

    monkeypatch.setattr(scores, "FOLD_AFTER", 0)  # every change is folded at the next look
    clock.advance(timedelta(hours=2))
    await _open(slack, "UEMP2", "linkedin")
    carla = await slack.command("UEMP3", "me")
    assert "Points: 6" in carla["text"]
    assert "Rank: 1 of 2 participants" in carla["text"]  # a tie: nobody has more
    assert sorted((await _snapshot(sessions)).values()) == [6, 6]  # Bob's new share folded in
    async with sessions() as session:
        assert await session.scalar(select(PointsRefresh.as_of)) == clock.now()

    clock.advance(timedelta(hours=2))
    await _open(slack, "UEMP1", "x")
    elodie = await slack.command("UEMP1", "me")
    assert "Rang : 3 sur 3 participants" in elodie["text"]
    bob = await slack.command("UEMP2", "me")
    assert "Points: 6" in bob["text"]
    assert "Rank: 1 of 3 participants" in bob["text"]
    async with sessions() as session:
        workspace_id = (await session.scalars(select(PointsRefresh.workspace_id))).one()
        assert await _snapshot(sessions) == await scores.points_by_member(session, workspace_id=workspace_id)
