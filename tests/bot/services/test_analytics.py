"""The dashboard's figures (`bot.services.analytics`): worked out by hand on a small month, equal to what
`relais export` writes for the same rows, and kept right by the weekly aggregates as weeks settle and
shares change afterwards."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import db
from bot.services import analytics, erasure
from bot.services.analytics import Scope
from models import DashboardRefresh, DashboardWeek, Network, Platform, Share, ShareStatus, Workspace
from tests.bot.services.dashboard_data import FOUR_WEEKS, MEMBERS, NOW, Seeded, seed_workspace
from tests.bot.test_cli import relais


@pytest.fixture
async def seeded(engine: AsyncEngine) -> Seeded:
    async with db.session_factory(engine)() as session:
        return await seed_workspace(session)


async def figures(engine: AsyncEngine, scope: Scope) -> analytics.Dashboard:
    async with db.session_factory(engine)() as session:
        return await analytics.dashboard(session, scope)


def by_week(found: analytics.Dashboard) -> dict[str, tuple[dict[Network, int], dict[Network, int], int]]:
    return {week.start.isoformat(): (week.shares, week.clicks, week.sharers) for week in found.weeks}


async def test_four_weeks_worked_out_by_hand(engine: AsyncEngine, seeded: Seeded) -> None:
    found = await figures(engine, Scope(seeded.workspace_id, 4, NOW))
    assert by_week(found) == FOUR_WEEKS
    assert {week.start.isoformat(): week.members for week in found.weeks} == MEMBERS
    assert found.weeks[-1].participation == pytest.approx(1 / 3)
    assert [
        (row.post_id, row.reached, row.share_clicks, row.shares, row.clicks, row.not_for_me)
        for row in found.posts
    ] == [(seeded.news, 3, 3, 2, 3, 1), (seeded.launch, 1, 3, 2, 2, 0)]
    assert found.posts[0].not_for_me_rate == pytest.approx(0.25)
    assert found.posts[1].not_for_me_rate == 0
    assert [(row.external_id, row.shares, row.clicks) for row in found.advocates] == [
        ("UBOB", 3, 3),
        ("UCARLA", 1, 2),
    ]
    assert found.channels == ["C0GENERAL", "C0NEWS"]


async def test_twelve_weeks_take_in_october(engine: AsyncEngine, seeded: Seeded) -> None:
    found = await figures(engine, Scope(seeded.workspace_id, 12, NOW))
    assert found.weeks[0].start == date(2026, 9, 7)
    assert by_week(found)["2026-09-28"] == ({Network.X: 1}, {}, 1)
    assert [(row.post_id, row.shares) for row in found.posts] == [(seeded.news, 3), (seeded.launch, 2)]
    assert [(row.external_id, row.shares) for row in found.advocates] == [("UBOB", 3), ("UCARLA", 2)]


async def test_a_network_or_a_channel_narrows_every_figure(engine: AsyncEngine, seeded: Seeded) -> None:
    linkedin = await figures(engine, Scope(seeded.workspace_id, 4, NOW, network=Network.LINKEDIN))
    assert by_week(linkedin) == {
        "2026-11-02": ({}, {}, 0),
        "2026-11-09": ({}, {}, 0),
        "2026-11-16": ({}, {}, 0),
        "2026-11-23": ({Network.LINKEDIN: 2}, {Network.LINKEDIN: 3}, 1),
    }
    assert [(row.post_id, row.share_clicks, row.shares, row.clicks) for row in linkedin.posts] == [
        (seeded.news, 2, 1, 3),
        (seeded.launch, 1, 1, 0),
    ]
    general = await figures(engine, Scope(seeded.workspace_id, 4, NOW, channel="C0GENERAL"))
    assert by_week(general) == {
        "2026-11-02": ({}, {}, 0),
        "2026-11-09": ({Network.X: 1}, {Network.X: 1}, 1),
        "2026-11-16": ({}, {Network.X: 1}, 0),
        "2026-11-23": ({Network.LINKEDIN: 1}, {}, 1),
    }
    assert [row.post_id for row in general.posts] == [seeded.launch]
    assert [(row.external_id, row.shares, row.clicks) for row in general.advocates] == [
        ("UCARLA", 1, 2),  # as many shares as Bob, more clicks
        ("UBOB", 1, 0),
    ]


async def test_settled_weeks_follow_later_changes_and_the_clock(engine: AsyncEngine, seeded: Seeded) -> None:
    """Every row stamped before 10 minutes ago is aggregated at the first look; Bob's pending X share of
    P2 (stamped Sunday 23:59:59) is posted on Wednesday: that week is rebuilt. A week later the figures
    do not move."""
    scope = Scope(seeded.workspace_id, 4, NOW)
    await figures(engine, scope)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        aggregated = await session.scalar(select(func.count()).select_from(DashboardWeek))
        assert aggregated  # the settled weeks are in the aggregates
        await session.execute(
            update(Share)
            .where(
                Share.post_id == seeded.launch,
                Share.network == Network.X,
                Share.status == ShareStatus.PENDING,
            )
            .values(status=ShareStatus.POSTED, updated_at=NOW)
        )
        await session.commit()
    changed = await figures(engine, scope)
    assert by_week(changed)["2026-11-16"] == ({Network.X: 2}, {Network.X: 1}, 1)  # Bob both times

    later = await figures(engine, Scope(seeded.workspace_id, 12, NOW + timedelta(days=7)))
    async with sessions() as session:
        state = await session.scalar(select(DashboardRefresh))
        assert state is not None
        assert state.watermark == NOW + timedelta(days=7) - analytics.SETTLE
    same = await figures(engine, Scope(seeded.workspace_id, 12, NOW))
    assert by_week(later)["2026-11-23"] == by_week(same)["2026-11-23"] == FOUR_WEEKS["2026-11-23"]
    assert by_week(later)["2026-11-16"] == by_week(same)["2026-11-16"]


def _export(kind: str, database_url: str) -> list[dict[str, str]]:
    result = relais("export", kind, "--workspace", "T1", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.mark.parametrize("weeks", [4, 12])
async def test_the_dashboard_agrees_with_relais_export(empty_database_url: str, weeks: int) -> None:
    """Shares and clicks per week and network, per post, and per member, as a reader of `relais export
    shares` and `relais export clicks` counts them (rows with `counted` true, bucketed by UTC week), on a
    database `relais migrate` made."""
    database_url = empty_database_url
    assert relais("migrate", DATABASE_URL=database_url).returncode == 0
    engine = db.create_engine(database_url)
    try:
        async with db.session_factory(engine)() as session:
            seeded = await seed_workspace(session)
        scope = Scope(seeded.workspace_id, weeks, NOW)
        found = await figures(engine, scope)
    finally:
        await engine.dispose()

    def in_period(stamp: str) -> date | None:
        monday = analytics.week_of(datetime.fromisoformat(stamp))
        return monday if scope.week_starts[0] <= monday <= scope.week_starts[-1] else None

    shares = [
        row
        for row in _export("shares", database_url)
        if row["counted"] == "true" and in_period(row["created_at"])
    ]
    clicks = [
        row for row in _export("clicks", database_url) if row["counted"] == "true" and in_period(row["at"])
    ]
    assert shares
    assert clicks
    exported_weeks = Counter((in_period(row["created_at"]), Network(row["network"])) for row in shares)
    exported_clicks = Counter((in_period(row["at"]), Network(row["network"])) for row in clicks)
    shown_weeks = Counter({(w.start, n): c for w in found.weeks for n, c in w.shares.items()})
    shown_clicks = Counter({(w.start, n): c for w in found.weeks for n, c in w.clicks.items()})
    assert shown_weeks == exported_weeks
    assert shown_clicks == exported_clicks
    assert {row.post_id: row.shares for row in found.posts if row.shares} == Counter(
        int(r["post_id"]) for r in shares
    )
    assert {row.post_id: row.clicks for row in found.posts if row.clicks} == Counter(
        int(r["post_id"]) for r in clicks
    )
    assert {row.external_id: row.shares for row in found.advocates if row.shares} == Counter(
        r["member"] for r in shares
    )
    assert {row.external_id: row.clicks for row in found.advocates if row.clicks} == Counter(
        r["member"] for r in clicks
    )


async def test_only_the_workspaces_own_rows_count(engine: AsyncEngine, seeded: Seeded) -> None:
    async with db.session_factory(engine)() as session:
        other = await session.scalar(
            select(Share.workspace_id).where(Share.workspace_id != seeded.workspace_id)
        )
    assert other is not None
    found = await figures(engine, Scope(other, 4, NOW))
    assert by_week(found)["2026-11-23"] == ({Network.LINKEDIN: 1}, {Network.LINKEDIN: 1}, 1)
    assert [row.post_id for row in found.posts] == [seeded.elsewhere]


async def test_an_empty_workspace_has_zeros(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as session:
        workspace = await seed_workspace_empty(session)
    found = await figures(engine, Scope(workspace, 52, NOW))
    assert len(found.weeks) == 52
    assert all(not week.shares and not week.clicks and week.participation is None for week in found.weeks)
    assert found.posts == []
    assert found.advocates == []


async def seed_workspace_empty(session: AsyncSession) -> int:
    workspace = Workspace(platform=Platform.SLACK, external_id="TEMPTY", created_at=NOW, updated_at=NOW)
    session.add(workspace)
    await session.commit()
    return workspace.id


@pytest.mark.parametrize("weeks", [4, 12])
async def test_the_top_advocates_are_the_first_of_every_member(
    engine: AsyncEngine, seeded: Seeded, weeks: int
) -> None:
    """The top reads only the settled weeks' own top and the recent members who could overtake it: Carla
    leads the settled weeks (as many shares as Bob, more clicks), Bob passes her with this week's two."""
    scope = Scope(seeded.workspace_id, weeks, NOW)
    async with db.session_factory(engine)() as session:
        split = await analytics.settled(session, scope)
        everyone = await analytics.advocates(session, scope, split, limit=None)
        for limit in (1, 2, 3):
            assert await analytics.advocates(session, scope, split, limit=limit) == everyone[:limit]
    assert [row.external_id for row in everyone] == ["UBOB", "UCARLA"]


async def test_two_first_looks_at_once_build_the_aggregates_once(engine: AsyncEngine, seeded: Seeded) -> None:
    """Two admins (or web processes) look at the same moment: one builds, the other waits for it and finds
    the work done; both see the same figures and nothing fails on the aggregates' keys."""
    scope = Scope(seeded.workspace_id, 4, NOW)
    first, second = await asyncio.gather(figures(engine, scope), figures(engine, scope))
    assert by_week(first) == by_week(second) == FOUR_WEEKS
    async with db.session_factory(engine)() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(DashboardWeek)
            .where(DashboardWeek.workspace_id == seeded.workspace_id)
        )
        keys = await session.scalar(
            select(func.count()).select_from(
                select(DashboardWeek.week, DashboardWeek.post_id, DashboardWeek.network)
                .where(DashboardWeek.workspace_id == seeded.workspace_id)
                .distinct()
                .subquery()
            )
        )
    assert rows == keys


async def test_an_erased_member_leaves_the_top_advocates_before_it_is_cut(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    """Bob, first of the top, erases his data (`bot.services.erasure`): the top of one is then Carla, not
    nobody; his shares still count in the totals."""
    scope = Scope(seeded.workspace_id, 4, NOW)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        split = await analytics.settled(session, scope)
        assert [row.external_id for row in await analytics.advocates(session, scope, split, limit=1)] == [
            "UBOB"
        ]
        await session.commit()
        target = await erasure.find_target(session, platform="slack", workspace="T1", member="UBOB")
    assert target is not None
    assert await erasure.erase_member(sessions, target, cipher=None, clients={}, now=NOW) is not None
    async with sessions() as session:
        split = await analytics.settled(session, scope)
        top = await analytics.advocates(session, scope, split, limit=1)
        assert [row.external_id for row in top] == ["UCARLA"]
        everyone = await analytics.advocates(session, scope, split, limit=None)
        assert [row.external_id for row in everyone] == ["UCARLA"]
