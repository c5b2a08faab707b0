"""One time-zone rule (`bot.services.members`): a member's zone is their own, else their workspace's,
else UTC, whether Python reads it from the rows (`timezone_of`) or a query selects or groups members by
it (`timezone_column`); and one reader of zone names (`known_zone`), strict for a schedule and lenient
for showing a time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import schedules
from bot.services.members import known_zone, timezone_column, timezone_of, zone_of
from models import Member, Platform, Workspace

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_a_query_reads_each_member_s_zone_as_the_rows_do(sessions: Sessions) -> None:
    async with sessions() as session:
        for index, workspace_zone in enumerate(("Europe/Paris", None)):
            workspace = Workspace(
                platform=Platform.SLACK,
                external_id=f"T{index}",
                timezone=workspace_zone,
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(workspace)
            await session.flush()
            for own in ("America/New_York", None):
                session.add(
                    Member(
                        workspace_id=workspace.id,
                        external_id=f"U{index}{own or ''}",
                        timezone=own,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
        await session.commit()
    seen = []
    async with sessions() as session:
        for workspace in (await session.scalars(select(Workspace).order_by(Workspace.id))).all():
            rows = await session.execute(
                select(Member, timezone_column(workspace))
                .where(Member.workspace_id == workspace.id)
                .order_by(Member.id)
            )
            for member, selected in rows.all():
                assert selected == timezone_of(member, workspace)
                seen.append(selected)
    assert seen == ["America/New_York", "Europe/Paris", "America/New_York", "UTC"]


def test_a_zone_name_is_read_once_strictly_for_a_schedule_and_leniently_for_showing_a_time() -> None:
    assert known_zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert known_zone(None) == ZoneInfo("UTC")
    for bad in ("Mars/Olympus", "../etc/passwd", "Europe"):
        assert known_zone(bad) is None
        assert zone_of(bad) == ZoneInfo("UTC")
    with pytest.raises(schedules.ScheduleError) as refused:
        schedules.zone("Mars/Olympus")
    assert refused.value.code == "bad_timezone"
    assert schedules.zone(None) == zone_of(None) == ZoneInfo("UTC")
