"""`GET /me`'s points per week, through HTTP: the member signs in with Slack (the fake Slack's OpenID
Connect) and reads the last 12 UTC weeks (from Monday) of their points, earned by the leaderboard's
rules (a share through the API 10, through the personal link 3, counted clicks capped at 20 per link
per week), as a chart with its numbers in the table beside it; the weeks add up to the `me` command's
points over the same weeks, in English and in French."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import SlackDriver
from models import Click, Member, Network, Post, Share, ShareStatus, TrackedLink
from tests.handlers.slack.driver import START, SettingsFactory, relais_app, setup_workspace
from tests.handlers.slack.test_signin import Browser, Site, _settings, shown

# START is Wednesday 2026-11-25: its week began on Monday the 23rd (UTC).
THIS_MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WEEKS = [(THIS_MONDAY - timedelta(weeks=back)).date().isoformat() for back in range(11, -1, -1)]
# Bob's points by week, worked out by hand from `seed_bob` below.
EXPECTED = {"2026-11-23": 13, "2026-11-16": 25, "2026-11-09": 3}


@dataclass
class Me:
    site: Site
    driver: SlackDriver


@pytest.fixture
async def me(make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack) -> AsyncIterator[Me]:
    setup_workspace(fake_slack)
    settings = _settings(make_settings, fake_slack)
    async with relais_app(settings, engine, FrozenClock(START), fake_slack) as driver:
        yield Me(
            Site(Browser(driver.client), fake_slack, FrozenClock(START), db.session_factory(engine)), driver
        )


def share(member: Member, post: Post, network: Network, status: ShareStatus, at: datetime) -> Share:
    return Share(
        workspace_id=member.workspace_id, member_id=member.id, post_id=post.id, network=network,
        status=status, created_at=at, updated_at=at,
        intent_at=at if status == ShareStatus.FAILED else None,
    )  # fmt: skip


def link(member: Member, post: Post, code: str, network: Network = Network.LINKEDIN) -> TrackedLink:
    return TrackedLink(
        workspace_id=member.workspace_id, code=code, post_id=post.id, member_id=member.id,
        network=network, created_at=START,
    )  # fmt: skip


def clicks(
    found: TrackedLink, first: datetime, count: int, *, step: timedelta, counted: bool = True
) -> list[Click]:
    return [
        Click(workspace_id=found.workspace_id, link_id=found.id, at=first + step * n, counted=counted)
        for n in range(count)
    ]


async def seed_bob(site: Site) -> None:
    """Bob (UEMP2, signed in) and Carla:

    - this week (from Monday 23rd): a share through LinkedIn's API (10), 3 counted clicks on his first
      link from Monday 00:00 (3; 2 more not counted: bots, repeats), Carla's share and clicks (not his);
    - the week before: a share whose API post failed after his personal link counted it (3), 25 counted
      clicks on his first link up to Sunday 23:59 (capped: 20), 2 on his second link, on X (2);
    - the week of the 9th: a share by personal link on Sunday the 15th (3);
    - a share still pending (nothing).
    """
    async with site.sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        carla = Member(workspace_id=bob.workspace_id, external_id="UEMP3", created_at=START, updated_at=START)
        posts = [
            Post(
                workspace_id=bob.workspace_id,
                url=f"https://acme.example/{n}",
                created_at=START,
                updated_at=START,
            )
            for n in range(3)
        ]
        session.add_all([carla, *posts])
        await session.flush()
        post, older, pending = posts
        first, second, carlas = (
            link(bob, post, "bob1"),
            link(bob, post, "bob2", Network.X),
            link(carla, post, "carla"),
        )
        session.add_all(
            [
                share(bob, post, Network.LINKEDIN, ShareStatus.POSTED, START - timedelta(days=2)),
                share(bob, older, Network.X, ShareStatus.FAILED, START - timedelta(days=8)),
                share(bob, post, Network.X, ShareStatus.INTENT, START - timedelta(days=10)),
                share(bob, pending, Network.LINKEDIN, ShareStatus.PENDING, START - timedelta(days=1)),
                share(carla, post, Network.LINKEDIN, ShareStatus.POSTED, START - timedelta(days=1)),
                first,
                second,
                carlas,
            ]
        )
        await session.flush()
        minute = timedelta(minutes=1)
        session.add_all(
            clicks(first, THIS_MONDAY, 3, step=minute)
            + clicks(first, THIS_MONDAY + timedelta(hours=1), 2, step=minute, counted=False)
            + clicks(first, THIS_MONDAY - timedelta(seconds=1), 25, step=-minute)
            + clicks(second, THIS_MONDAY - timedelta(days=3), 2, step=minute)
            + clicks(carlas, THIS_MONDAY, 5, step=minute)
        )
        await session.commit()


def weekly_rows(page: str) -> dict[str, int]:
    """The points-per-week table's rows: week → points."""
    return {
        week: int(points)
        for week, points in re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\d+)</td></tr>", page)
    }


async def test_me_shows_points_per_week_by_the_leaderboards_rules(me: Me) -> None:
    await me.site.sign_in("UEMP2")
    await seed_bob(me.site)
    response = await me.site.browser.get("/me")
    assert response.status_code == 200
    page = shown(response)
    assert "<h2>Your points per week</h2>" in page
    rows = weekly_rows(page)
    assert list(rows) == WEEKS
    assert rows == {week: EXPECTED.get(week, 0) for week in WEEKS}
    assert "The last 12 weeks (UTC weeks, from Monday): 41 points." in page
    # The page's totals are the `me` command's, and the weeks add up to them.
    assert "<tr><th>Your points</th><td>41</td></tr>" in page
    reply = await me.driver.command("UEMP2", "me")
    assert "Points: 41" in str(reply)

    # The chart is an image of its own (no script, only `data:` images let in), beside its table.
    assert "img-src data:" in response.headers["Content-Security-Policy"]
    chart = re.search(
        r'<div class="chart-with-table" style="display:flex;flex-wrap:wrap[^"]*">'
        r'<div [^>]*><img src="data:image/svg\+xml;base64,([^"]+)" alt="Your points per week"',
        response.text,
    )
    assert chart is not None
    svg = base64.b64decode(chart.group(1)).decode()
    assert "2026-11-16" in svg  # the weeks and the numbers are the table's
    assert ">25<" in svg
    assert "<script" not in response.text


async def test_old_points_stay_in_the_total_but_not_in_the_weeks(me: Me) -> None:
    """A share 14 weeks ago counts for the `me` points (all time) but is before the 12 weeks shown."""
    await me.site.sign_in("UEMP2")
    await seed_bob(me.site)
    async with me.site.sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        post = (await session.scalars(select(Post).where(Post.url.endswith("/1")))).one()
        session.add(share(bob, post, Network.LINKEDIN, ShareStatus.POSTED, THIS_MONDAY - timedelta(weeks=14)))
        # And a click one second before the first week shown: outside too.
        found = (await session.scalars(select(TrackedLink).where(TrackedLink.code == "bob2"))).one()
        session.add_all(clicks(found, THIS_MONDAY - timedelta(weeks=11, seconds=1), 1, step=timedelta()))
        await session.commit()
    page = shown(await me.site.browser.get("/me"))
    assert weekly_rows(page) == {week: EXPECTED.get(week, 0) for week in WEEKS}
    assert "The last 12 weeks (UTC weeks, from Monday): 41 points." in page
    assert "<tr><th>Your points</th><td>52</td></tr>" in page
    assert "Points: 52" in str(await me.driver.command("UEMP2", "me"))


async def test_points_per_week_in_french(me: Me) -> None:
    await me.site.sign_in("UEMP1")  # Élodie uses Slack in French
    page = shown(await me.site.browser.get("/me"))
    assert "<h2>Vos points par semaine</h2>" in page
    assert "Les 12 dernières semaines (semaines UTC, à partir du lundi) : 0 points." in page
    assert "<th>Semaine</th><th>Points gagnés</th>" in page
    assert weekly_rows(page) == dict.fromkeys(WEEKS, 0)
    assert 'alt="Vos points par semaine"' in page
