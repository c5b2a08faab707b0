"""`relais jobs run dashboard`: the clock builds the dashboard's weekly aggregates of every workspace, so
that an admin's first look does not wait for them; the dashboard then reads the same figures."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import db
from bot.demo.fake_slack import FakeSlack
from bot.services import analytics
from models import DashboardRefresh, DashboardWeek
from tests.bot.services.dashboard_data import FOUR_WEEKS, NOW, seed_workspace
from tests.conftest import BOT_TOKEN
from tests.scheduler.test_jobs_cli import _relais


async def test_the_hourly_job_builds_every_workspaces_aggregates(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    env = {
        "DATABASE_URL": empty_database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake_slack.api_url,
    }
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            seeded = await seed_workspace(session)
        code, out, err = await _relais("jobs", "run", "dashboard", "--at", NOW.isoformat(), **env)
        assert code == 0, err
        assert "2 workspaces" in out  # T1 and the other one of the seed
        async with sessions() as session:
            watermarks = set((await session.scalars(select(DashboardRefresh.watermark))).all())
            weeks = await session.scalar(
                select(func.count())
                .select_from(DashboardWeek)
                .where(DashboardWeek.workspace_id == seeded.workspace_id)
            )
            found = await analytics.dashboard(session, analytics.Scope(seeded.workspace_id, 4, NOW))
        assert watermarks == {NOW - analytics.SETTLE}
        assert weeks  # the weeks are built
        assert {w.start.isoformat(): (w.shares, w.clicks, w.sharers) for w in found.weeks} == FOUR_WEEKS
    finally:
        await engine.dispose()
