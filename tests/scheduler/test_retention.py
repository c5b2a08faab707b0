"""RELAIS_RETENTION_DAYS, run as operators and the clock run it (`relais jobs run retention --at`): old
clicks are folded into weekly rows, old finished messages and visit tallies deleted, pending messages kept,
past visitors' keys and salts forgotten, and no figure anyone sees changes: points and ranks, a member's
points per week, the leaderboards, `/relais stats`, the dashboard (rebuilt from scratch too) and the
export's totals."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.config import ConfigError, load_settings
from bot.demo.fake_slack import FakeSlack
from bot.services import analytics, leaderboard, retention, scores
from bot.services.export import ExportKind, export_rows
from bot.services.posts import POST_KIND
from bot.services.shared_marks import NUDGE_KIND
from models import (
    Click,
    DashboardRefresh,
    Member,
    Network,
    OutboxMessage,
    OutboxState,
    RetentionHorizon,
    Share,
    ShareStatus,
    TrackedLink,
    VisitorSalt,
    VisitTally,
    Workspace,
)
from tests.bot.services.dashboard_data import Seeded, seed_workspace
from tests.bot.test_cli import assert_one_line_error, relais
from tests.conftest import BOT_TOKEN
from tests.scheduler.test_jobs_cli import _relais

Sessions = async_sessionmaker[AsyncSession]

# A Wednesday, two months after the seed's month: 60 days back is Saturday 2026-11-28, so the cutoff is
# Monday 2026-11-23 and the seed's clicks of the weeks before are folded, those of 11-23 on are not.
JOB_TIME = datetime(2027, 1, 27, 9, 0, tzinfo=UTC)
DAYS = 60
CUTOFF = datetime(2026, 11, 23, tzinfo=UTC)
TODAY = datetime(2027, 1, 27, tzinfo=UTC)


def _at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Extra:
    busy_link: int  # Bob's link with 25 clicks in one week (capped at 20 points)
    new_year_link: int  # Carla's link with clicks on both sides of 2026-01-01
    pending_round: str


async def _seed_more(session: AsyncSession, seeded: Seeded) -> Extra:
    """Beside the dashboard's seed (`dashboard_data.seed`): a week of 25 clicks on one link (the cap), 22
    clicks on each side of the new year (SQLite's weeks cut there, ISO's do not), an old uncounted click,
    visit tallies, old finished messages of every kind, a channel push refused for good, a round still
    under way, Eve's share and clicks of the last days (this week's leaderboard), and four days' salts."""
    ws = seeded.workspace_id
    members = {
        m.external_id: m
        for m in (await session.scalars(select(Member).where(Member.workspace_id == ws))).all()
    }
    bob, carla, eve = members["UBOB"], members["UCARLA"], members["UEVE"]

    def link(member: Member, post: int, network: Network, code: str) -> TrackedLink:
        return TrackedLink(workspace_id=ws, code=code, post_id=post, member_id=member.id, network=network,
                           created_at=_at(2025, 12, 1))  # fmt: skip

    busy = link(bob, seeded.launch, Network.X, "bobbusy")
    new_year = link(carla, seeded.news, Network.LINKEDIN, "carlanewyear")
    eve_link = link(eve, seeded.news, Network.LINKEDIN, "evenews")
    session.add_all([busy, new_year, eve_link])
    await session.flush()

    def click(where: TrackedLink, when: datetime, n: int, *, counted: bool = True) -> Click:
        return Click(workspace_id=ws, link_id=where.id, at=when + timedelta(minutes=n), counted=counted,
                     hour=when.replace(minute=0), visitor=f"visitor-{where.code}-{n}")  # fmt: skip

    session.add_all(click(busy, _at(2026, 11, 3), n) for n in range(25))
    session.add_all(click(new_year, _at(2025, 12, 30), n) for n in range(22))
    session.add_all(click(new_year, _at(2026, 1, 2), n) for n in range(22))
    session.add(click(busy, _at(2026, 11, 10), 0, counted=False))
    session.add_all(click(eve_link, _at(2027, 1, 25), n) for n in range(2))
    session.add(click(eve_link, _at(2027, 1, 26, 10), 0))
    session.add(
        Share(workspace_id=ws, member_id=eve.id, post_id=seeded.news, network=Network.LINKEDIN,
              status=ShareStatus.POSTED, created_at=_at(2027, 1, 25), updated_at=_at(2027, 1, 25))
    )  # fmt: skip
    session.add_all(
        VisitTally(workspace_id=ws, link_id=busy.id, hour=hour, robots=3, repeats=1)
        for hour in (_at(2026, 11, 10, 10), _at(2027, 1, 26, 10))
    )

    def message(kind: str, state: OutboxState, when: datetime, key: str, round_key: str | None = None) -> Any:
        return OutboxMessage(workspace_id=ws, kind=kind, destination="UBOB", dedupe_key=key, payload={},
                             round_key=round_key, state=state, attempts=1, next_attempt_at=when,
                             sent_at=when if state is OutboxState.SENT else None, created_at=when,
                             updated_at=when)  # fmt: skip

    pending_round = "nudges:2026-W45@UTC"
    session.add_all(
        [
            message("leaderboard", OutboxState.CANCELLED, _at(2026, 11, 5), "old-cancelled"),
            message(NUDGE_KIND, OutboxState.FAILED, _at(2026, 11, 6), "old-failed"),
            message(
                POST_KIND, OutboxState.FAILED, _at(2026, 11, 6), "old-refused-push", f"post:{seeded.news}"
            ),
            message(NUDGE_KIND, OutboxState.SENT, _at(2026, 11, 2), "old-round-sent", pending_round),
            message(NUDGE_KIND, OutboxState.PENDING, _at(2026, 11, 2), "old-round-pending", pending_round),
            message(NUDGE_KIND, OutboxState.SENT, _at(2027, 1, 20), "recent-sent"),
        ]
    )
    session.add_all(VisitorSalt(day=date(2027, 1, day), salt=bytes([day]) * 32) for day in (24, 25, 26, 27))
    # Pending messages wait for later: `relais jobs run` sends what is due (by the real time) after its job.
    await session.flush()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.PENDING)
        .values(next_attempt_at=datetime(2100, 1, 1, tzinfo=UTC))
    )
    await session.commit()
    return Extra(busy_link=busy.id, new_year_link=new_year.id, pending_round=pending_round)


async def _figures(sessions: Sessions, seeded: Seeded) -> dict[str, Any]:
    """Every figure a person sees, as of the job's time."""
    ws = seeded.workspace_id
    found: dict[str, Any] = {}
    async with sessions() as session:
        members = (await session.scalars(select(Member).where(Member.workspace_id == ws))).all()
        period = analytics.Scope(ws, 12, JOB_TIME)
        for member in members:
            found[f"me {member.external_id}"] = await scores.member_stats(
                session, workspace_id=ws, member_id=member.id, now=JOB_TIME
            )
            per_week: Counter[date] = Counter()
            for at, points in await scores.member_points(
                session, workspace_id=ws, member_id=member.id, since=period.since
            ):
                per_week[analytics.week_of(at)] += points
            found[f"/me weeks {member.external_id}"] = per_week
        await session.commit()  # the points snapshot
        found["points"] = await scores.points_by_member(session, workspace_id=ws)
        for end in (JOB_TIME, JOB_TIME - timedelta(days=7)):
            found[f"board {end}"] = await leaderboard.weekly_board(session, workspace_id=ws, end=end)
        for post in (seeded.news, seeded.launch):
            found[f"stats {post}"] = await scores.stats(session, workspace_id=ws, post_id=post)
        found["stats 30 days"] = await scores.stats(
            session, workspace_id=ws, since=JOB_TIME - timedelta(days=30)
        )
        exported: Counter[tuple[Any, ...]] = Counter()
        async for row in export_rows(session=session, kind=ExportKind.CLICKS):
            if row["counted"]:
                exported[row["post_id"], row["member"], row["network"]] += row["clicks"]
        found["export"] = exported
    for weeks in analytics.PERIODS:
        async with sessions() as session:
            found[f"dashboard {weeks}"] = await analytics.dashboard(
                session, analytics.Scope(ws, weeks, JOB_TIME)
            )
            for channel in ("C0NEWS", "C0GENERAL"):
                scope = analytics.Scope(ws, weeks, JOB_TIME, channel=channel)
                found[f"dashboard {weeks} {channel}"] = await analytics.dashboard(session, scope)
            scope = analytics.Scope(ws, weeks, JOB_TIME, post_id=seeded.news)
            page = await analytics.post_page(session, scope)
            assert page is not None
            found[f"post page {weeks}"] = (
                page.figures,
                page.weeks,
                page.pushed,
                page.captions,
                page.by_channel,
            )
    return found


async def _clicks_per_link(session: AsyncSession) -> dict[int, int]:
    summed = select(Click.link_id, func.sum(Click.clicks)).group_by(Click.link_id)
    return {link: int(n) for link, n in await session.execute(summed)}


def _environment(url: str, fake_slack: FakeSlack, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake_slack.api_url,
        **more,
    }


async def test_the_daily_job_deletes_old_rows_and_every_figure_stays_the_same(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    env = _environment(empty_database_url, fake_slack, RELAIS_RETENTION_DAYS=str(DAYS))
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            seeded = await seed_workspace(session)
            extra = await _seed_more(session, seeded)
            links_before = await _clicks_per_link(session)
        before = await _figures(sessions, seeded)
        assert before["me UBOB"].points > 0
        assert before["me UCARLA"].clicks == 2 + 44
        assert before["dashboard 52"].posts  # a year of figures to keep

        code, out, err = await _relais("jobs", "run", "retention", "--at", JOB_TIME.isoformat(), **env)
        assert code == 0, err
        # Carla's 2 + 44 clicks, Bob's 25: 5 weekly rows (two for the new year's week); the seed's two
        # nudges of 11-16, a cancelled and a failed message; every click before today loses its visitor key
        # first (those folded next too: keys go before anything else); the salts of the days before today
        # go (three), today's stays.
        assert "71 clicks folded into 5 weekly rows, 1 uncounted clicks, 1 visit tallies" in out, out
        assert "and 4 messages deleted, 80 visitor keys cleared, 3 salts deleted" in out, out

        after = await _figures(sessions, seeded)
        assert after == before
        async with sessions() as session:
            carla_launch = await session.scalar(
                select(TrackedLink.id).where(TrackedLink.code == "carlalaunch")
            )
            old = (await session.scalars(select(Click).where(Click.at < CUTOFF).order_by(Click.at))).all()
            assert [(c.link_id, c.at, c.clicks) for c in old] == [
                (extra.new_year_link, datetime(2025, 12, 29, tzinfo=UTC), 22),
                (extra.new_year_link, datetime(2026, 1, 1, tzinfo=UTC), 22),
                (extra.busy_link, datetime(2026, 11, 2, tzinfo=UTC), 25),
                (carla_launch, datetime(2026, 11, 9, tzinfo=UTC), 1),
                (carla_launch, datetime(2026, 11, 16, tzinfo=UTC), 1),
            ]
            assert all(c.counted and c.visitor is None and c.hour is None for c in old)
            links_after = await _clicks_per_link(session)
            assert links_after == {**links_before, extra.busy_link: 25}  # less the uncounted one
            keyed = (
                (await session.execute(select(Click.at).where(Click.visitor.is_not(None)))).scalars().all()
            )
            assert all(at >= TODAY for at in keyed)
            assert (await session.scalars(select(VisitTally.hour))).all() == [_at(2027, 1, 26, 10)]
            kept = {
                (m.dedupe_key, m.state)
                for m in (await session.scalars(select(OutboxMessage))).all()
                if not (m.dedupe_key or "").startswith("nudge:")
            }
            assert kept == {
                ("old-refused-push", OutboxState.FAILED),
                ("old-round-sent", OutboxState.SENT),
                ("old-round-pending", OutboxState.PENDING),
                ("recent-sent", OutboxState.SENT),
            }
            seed_nudges = OutboxMessage.dedupe_key.startswith("nudge:")
            nudges = (await session.scalars(select(OutboxMessage.sent_at).where(seed_nudges))).all()
            assert sorted(n for n in nudges if n is not None) == [_at(2026, 11, 23, 9)]  # 11-16's are gone
            assert len(nudges) == 2  # and Dan's, pending, stays
            salts = (await session.scalars(select(VisitorSalt.day).order_by(VisitorSalt.day))).all()
            assert salts == [date(2027, 1, 27)]

            # The dashboard rebuilt from scratch (as after losing its aggregates) still shows the same
            # year, members reached of the deleted nudges included.
            await session.execute(delete(DashboardRefresh))
            await session.commit()
        assert await _figures(sessions, seeded) == before

        code, out, err = await _relais("jobs", "run", "retention", "--at", JOB_TIME.isoformat(), **env)
        assert code == 0, err
        assert "0 clicks folded into 0 weekly rows" in out
        assert "0 messages deleted" in out
        assert await _figures(sessions, seeded) == before
    finally:
        await engine.dispose()


async def test_two_sweeps_at_once_fold_each_click_once(sessions: Sessions) -> None:
    """Each batch folds only what its own DELETE returned: two runs at once (several batches each, of
    different sizes so that they interleave) neither count a click twice nor lose one."""
    async with sessions() as session:
        seeded = await seed_workspace(session)
        extra = await _seed_more(session, seeded)
        links_before = await _clicks_per_link(session)
    before = await _figures(sessions, seeded)

    runs = await asyncio.gather(
        retention.sweep(sessions, now=JOB_TIME, days=DAYS, batch=7),
        retention.sweep(sessions, now=JOB_TIME, days=DAYS, batch=5),
    )
    async with sessions() as session:
        assert await _clicks_per_link(session) == {**links_before, extra.busy_link: 25}
        old = await session.scalar(select(func.sum(Click.clicks)).where(Click.at < CUTOFF))
        assert old == 71
    assert sum(run.folded for run in runs) >= 71  # each old click once, weekly rows maybe once more
    assert sum(run.clicks for run in runs) == 1  # the uncounted one, deleted by one of them
    assert await _figures(sessions, seeded) == before


async def test_an_export_since_a_day_within_a_folded_week_keeps_that_weeks_row(sessions: Sessions) -> None:
    """Bob's 25 clicks of Tuesday 2026-11-03 are one row dated Monday 11-02 once folded: an export from the
    Tuesday still holds them (the whole week's row)."""
    async with sessions() as session:
        await _seed_more(session, await seed_workspace(session))
    await retention.sweep(sessions, now=JOB_TIME, days=DAYS)
    async with sessions() as session:
        rows = [
            row async for row in export_rows(session=session, kind=ExportKind.CLICKS, since=date(2026, 11, 3))
        ]
    week = [(row["at"], row["clicks"]) for row in rows if row["at"].startswith("2026-11-02")]
    assert week == [("2026-11-02T00:00:00+00:00", 25)]
    assert all(row["at"] >= "2026-11-02" for row in rows)


async def test_one_failing_workspace_stops_neither_the_others_nor_forgetting_keys_and_salts(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sessions() as session:
        seeded = await seed_workspace(session)
        extra = await _seed_more(session, seeded)
        other = await session.scalar(select(Workspace.id).where(Workspace.external_id == "T2"))
    assert other is not None
    assert other > seeded.workspace_id  # swept after the failing one
    real_refresh = analytics.refresh

    async def refresh(session: AsyncSession, *, workspace_id: int, now: datetime) -> Any:
        if workspace_id == seeded.workspace_id:
            raise RuntimeError("the dashboard's tables are locked")
        return await real_refresh(session, workspace_id=workspace_id, now=now)

    monkeypatch.setattr(analytics, "refresh", refresh)
    swept = await retention.sweep(sessions, now=JOB_TIME, days=DAYS)

    assert (swept.salts, swept.folded) == (3, 0)
    async with sessions() as session:
        assert (await session.scalars(select(VisitorSalt.day))).all() == [date(2027, 1, 27)]
        keyed = select(Click.workspace_id).where(Click.visitor.is_not(None), Click.at < TODAY)
        assert (await session.scalars(keyed)).all() == []  # the failing workspace's keys too: they go first
        horizon = await session.get_one(RetentionHorizon, other)
        assert horizon.folded_before == CUTOFF  # the next workspace was swept
        busy = select(func.count()).where(Click.link_id == extra.busy_link)
        assert await session.scalar(busy) == 26  # the failing workspace's clicks wait for the next run


async def test_weeks_are_utc_weeks_whatever_the_databases_time_zone(sessions: Sessions) -> None:
    """A link's 15 clicks of a Sunday noon UTC and 15 of the Monday 01:00 UTC after are two weeks of the
    cap: 30 points, also on a PostgreSQL session whose TimeZone is west of UTC (where both are a Sunday)."""
    async with sessions() as session:
        seeded = await seed_workspace(session)
        eve = await session.scalar(select(Member).where(Member.external_id == "UEVE"))
        assert eve is not None
        before = (await scores.points_by_member(session, workspace_id=seeded.workspace_id)).get(eve.id, 0)
        link = TrackedLink(workspace_id=seeded.workspace_id, code="evetz", post_id=seeded.launch,
                           member_id=eve.id, network=Network.X, created_at=_at(2026, 1, 1))  # fmt: skip
        session.add(link)
        await session.flush()
        for n in range(30):
            at = _at(2026, 3, 1, 12) if n < 15 else _at(2026, 3, 2, 1)  # a Sunday, then the Monday after
            session.add(Click(workspace_id=seeded.workspace_id, link_id=link.id, at=at + timedelta(seconds=n),
                              hour=at, counted=True, visitor=f"v{n}"))  # fmt: skip
        await session.commit()

    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SET TIME ZONE 'America/Los_Angeles'"))
        after = (await scores.points_by_member(session, workspace_id=seeded.workspace_id)).get(eve.id, 0)
    assert after - before == 30


async def test_a_later_batch_starts_at_its_cursor_in_the_index(engine: AsyncEngine) -> None:
    """A batch after the first reads the index from its cursor on (the `at >=` bound), not from the start."""
    after = retention._after(Click.at, Click.id, (CUTOFF, 10))
    batch = select(Click.at, Click.id).where(Click.workspace_id == 1, Click.at < JOB_TIME, *after)
    sql = str(
        batch.order_by(Click.at, Click.id)
        .limit(5)
        .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    )
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL enable_seqscan = off"))  # as on a big table
            plan = [row[0] for row in await connection.execute(text(f"EXPLAIN {sql}"))]
            bounds = [line for line in plan if "Index Cond" in line]
            assert bounds, plan
            assert "at >= '2026-11-23 00:00:00+00'" in bounds[0], plan
        else:
            plan = [row[3] for row in await connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
            assert any("INDEX ix_click_workspace_id_at (workspace_id=? AND at>? AND at<?)" in p for p in plan)


def test_the_cutoff_is_a_monday_and_folded_weeks_never_straddle_a_year() -> None:
    assert retention.cutoff(JOB_TIME, DAYS) == CUTOFF
    assert retention.cutoff(datetime(2026, 11, 23, 0, 0, tzinfo=UTC), 0) == CUTOFF  # a Monday itself
    assert retention.week_start(_at(2026, 1, 2)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert retention.week_start(_at(2025, 12, 31)) == datetime(2025, 12, 29, tzinfo=UTC)
    assert retention.week_start(_at(2026, 11, 29, 23)) == datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("10", "greater than or equal to 60"), ("40000", "less than or equal to 36500"), ("soon", "integer")],
)
def test_a_bad_retention_is_refused_in_one_line(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, relais_retention_days=value)
    message = str(refused.value)
    assert message.startswith("RELAIS_RETENTION_DAYS is invalid (")
    assert fragment in message
    assert "e.g. RELAIS_RETENTION_DAYS=400 (a whole number from 60 to 36500)" in message
    assert "\n" not in message


async def test_the_job_with_a_bad_retention_exits_2_and_deletes_nothing(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    env = _environment(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    try:
        async with db.session_factory(engine)() as session:
            await _seed_more(session, await seed_workspace(session))
            counted = await session.scalar(select(func.count()).select_from(Click))
        result = relais(
            "jobs", "run", "retention", "--at", JOB_TIME.isoformat(), **env, RELAIS_RETENTION_DAYS="7"
        )
        assert_one_line_error(result, "RELAIS_RETENTION_DAYS is invalid", "greater than or equal to 60")
        async with db.session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(Click)) == counted
            assert await session.scalar(select(func.count()).select_from(VisitorSalt)) == 4
    finally:
        await engine.dispose()
