"""Visitors' addresses are never stored, through the real `/r/<code>` route: a click holds a keyed hash of
the address with a random salt of its UTC day, so a visitor still counts once an hour, every web process
agrees on the day's salt, and once the retention job has deleted a past day's salt (and cleared that day's
keys) nobody can tell whose clicks they were."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services import links
from bot.web import visitor_secret
from models import Click, VisitorSalt
from scheduler import jobs
from tests.handlers.slack.driver import SettingsFactory, SlackDriver, relais_app
from tests.handlers.slack.test_tracked_links import Sessions, _browser, _link_of, _tallies

DAY = date(2026, 11, 25)
ADDRESS = "203.0.113.7"


def _moment(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


async def _clicks(sessions: Sessions) -> list[tuple[datetime | None, str | None]]:
    async with sessions() as session:
        return [(c.hour, c.visitor) for c in (await session.scalars(select(Click).order_by(Click.id))).all()]


def _key(make_settings: SettingsFactory, salt: bytes) -> str:
    """The visitor key of `ADDRESS` with a day's `salt`, as the app makes it: keyed by the install's secret
    as well (never in the database)."""
    return links.visitor_key(links.day_key(visitor_secret(make_settings()), salt), address=ADDRESS)


async def _salts(sessions: Sessions) -> dict[date, bytes]:
    async with sessions() as session:
        return {s.day: s.salt for s in (await session.scalars(select(VisitorSalt))).all()}


async def _visit(slack: SlackDriver, clock: FrozenClock, path: str, at: datetime, n: int = 0) -> None:
    clock.set(at)
    assert (await slack.client.get(path, headers=_browser(ADDRESS, n))).status_code == 302


async def test_an_address_counts_once_an_hour_and_its_key_changes_with_the_day(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock, make_settings: SettingsFactory
) -> None:
    path = await _link_of(slack, sessions, article)
    next_day = DAY + timedelta(days=1)
    for n, at in enumerate(
        (
            _moment(DAY, 22, 10),
            _moment(DAY, 22, 50),  # a repeat
            _moment(DAY, 23, 15),
            _moment(DAY, 23, 59, 59),  # a repeat
            _moment(next_day, 0, 0, 1),
            _moment(next_day, 0, 40),  # a repeat
        )
    ):
        await _visit(slack, clock, path, at, n)

    clicks = await _clicks(sessions)
    assert [hour for hour, _ in clicks] == [_moment(DAY, 22), _moment(DAY, 23), _moment(next_day, 0)]
    assert [(hour, repeats) for hour, repeats, _ in await _tallies(sessions)] == [
        (_moment(DAY, 22), 1),
        (_moment(DAY, 23), 1),
        (_moment(next_day, 0), 1),
    ]
    salts = await _salts(sessions)
    assert sorted(salts) == [DAY, next_day]
    assert {len(salt) for salt in salts.values()} == {links.SALT_BYTES}
    assert salts[DAY] != salts[next_day]
    keys = [visitor for _, visitor in clicks]
    assert keys == [
        _key(make_settings, salts[DAY]),
        _key(make_settings, salts[DAY]),
        _key(make_settings, salts[next_day]),
    ]
    assert keys[1] != keys[2]  # the same visitor is another key from one day to the next
    assert all(ADDRESS not in str(key) for key in keys)
    # The database alone is not enough: its salt without the install's secret does not give the key.
    assert keys[0] != links.visitor_key(salts[DAY], address=ADDRESS)


async def test_two_web_processes_sharing_the_database_agree_on_the_days_salt(
    slack: SlackDriver,
    article: str,
    sessions: Sessions,
    clock: FrozenClock,
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
) -> None:
    path = await _link_of(slack, sessions, article)
    clock.set(_moment(DAY, 15, 5))
    async with relais_app(make_settings(), engine, clock, fake_slack) as other:
        # The first visits of the day, at once through both: one salt, one counted click, one repeat.
        answers = await asyncio.gather(
            *(web.client.get(path, headers=_browser(ADDRESS, n)) for n, web in enumerate((slack, other)))
        )
        assert [answer.status_code for answer in answers] == [302, 302]
        assert len(await _clicks(sessions)) == 1
        assert [(hour, repeats) for hour, repeats, _ in await _tallies(sessions)] == [(_moment(DAY, 15), 1)]

        # The next day, the other process first: both move on to the same new salt.
        clock.set(_moment(DAY + timedelta(days=1), 9, 30))
        for web in (other, slack):
            assert (await web.client.get(path, headers=_browser(ADDRESS))).status_code == 302
    clicks = await _clicks(sessions)
    assert len(clicks) == 2
    salts = await _salts(sessions)
    assert sorted(salts) == [DAY, DAY + timedelta(days=1)]
    assert clicks[1][1] == _key(make_settings, salts[DAY + timedelta(days=1)])


async def test_the_retention_job_deletes_past_salts_and_clears_their_keys(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock, make_settings: SettingsFactory
) -> None:
    path = await _link_of(slack, sessions, article)
    days = [DAY + timedelta(days=n) for n in range(4)]
    for day in days[:2]:
        await _visit(slack, clock, path, _moment(day, 10))
    assert sorted(await _salts(sessions)) == days[:2]

    # The clock's hourly job, early the day after: the salts and keys of every day before today go
    # (hours never straddle midnight: no visit of today uses them), today's salt is made if need be.
    the_clock = jobs.Context(sessions, {}, FrozenClock(_moment(days[2], 0, 30)).now, retention_days=60)
    summary = await jobs.run_job(the_clock, "retention")
    assert "2 visitor keys cleared, 2 salts deleted" in str(summary)
    assert sorted(await _salts(sessions)) == [days[2]]
    assert await _clicks(sessions) == [(_moment(days[0], 10), None), (_moment(days[1], 10), None)]

    # Late in the day, it makes tomorrow's salt: at midnight a web process only reads it.
    the_clock = jobs.Context(sessions, {}, FrozenClock(_moment(days[2], 22, 30)).now, retention_days=60)
    await jobs.run_job(the_clock, "retention")
    salts = await _salts(sessions)
    assert sorted(salts) == days[2:]

    await _visit(slack, clock, path, _moment(days[2], 23, 10))
    await _visit(slack, clock, path, _moment(days[3], 0, 5), 1)
    assert await _salts(sessions) == salts  # nothing made, the same salts read
    assert [visitor for _, visitor in (await _clicks(sessions))[2:]] == [
        _key(make_settings, salts[days[2]]),
        _key(make_settings, salts[days[3]]),
    ]


async def test_a_new_day_under_load_needs_no_second_connection_per_visit(
    slack: SlackDriver,
    article: str,
    sessions: Sessions,
    clock: FrozenClock,
    make_settings: SettingsFactory,
    database_url: str,
    fake_slack: FakeSlack,
) -> None:
    """On a new day (no salt made ahead, another process), the day's salt is read before the visit takes
    its connection: with a pool of one connection, visits arriving at once are all counted."""
    path = await _link_of(slack, sessions, article)
    clock.set(_moment(DAY, 9))
    one = db.create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=5)
    try:
        async with relais_app(make_settings(), one, clock, fake_slack) as web:
            clock.set(_moment(DAY + timedelta(days=1), 9))
            answers = await asyncio.gather(
                *(web.client.get(path, headers=_browser(f"203.0.113.{n}", n)) for n in range(1, 6))
            )
            assert [answer.status_code for answer in answers] == [302] * 5
    finally:
        await one.dispose()
    clicks = await _clicks(sessions)
    assert [hour for hour, _ in clicks] == [_moment(DAY + timedelta(days=1), 9)] * 5
    assert all(visitor is not None for _, visitor in clicks)
