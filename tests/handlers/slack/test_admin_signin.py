"""The dashboard through HTTP, the parts `test_admin.py` leaves: a Slack workspace admin who never used
the bot is an admin from their first sign-in (the chat commands' look-up of who is acting asks Slack's
directory at sign-in), a plain member is not, and every chart sits beside the table of its numbers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from models import Member, Platform, Workspace
from tests.bot.services.dashboard_data import LONG_AGO, NOW, seed
from tests.handlers.slack.driver import TEAM, SettingsFactory, relais_app, setup_workspace
from tests.handlers.slack.test_admin import ADMIN, BOB, ELODIE, Dashboard
from tests.handlers.slack.test_signin import Browser, Site, _settings, shown


@pytest.fixture
async def board(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack
) -> AsyncIterator[Dashboard]:
    """`test_admin`'s dashboard (its seeded workspace; Élodie an admin by RELAIS_ADMINS only)."""
    setup_workspace(fake_slack)
    settings = _settings(make_settings, fake_slack, relais_admins=ELODIE)
    clock = FrozenClock(NOW)
    async with relais_app(settings, engine, clock, fake_slack) as driver:
        site = Site(Browser(driver.client), fake_slack, clock, db.session_factory(engine))
        async with site.sessions() as session:
            workspace = Workspace(
                platform=Platform.SLACK, external_id=TEAM, created_at=LONG_AGO, updated_at=LONG_AGO
            )
            session.add(workspace)
            await session.flush()
            seeded = await seed(session, workspace_id=workspace.id)
            await session.commit()
        yield Dashboard(site, driver, seeded)


async def test_a_slack_admin_who_never_used_the_bot_opens_the_dashboard(board: Dashboard) -> None:
    site = board.site
    landed = await site.sign_in(ADMIN, "/admin")  # no `/relais` command before
    assert landed.headers["location"] == "/admin"
    page = await site.browser.get("/admin")
    assert page.status_code == 200
    assert "<h1>Relais dashboard</h1>" in shown(page)
    [asked] = site.fake.calls_to("users.info")
    assert asked.params["user"] == ADMIN
    async with site.sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == ADMIN))).one()
    assert (member.is_admin, member.admin_checked_at) == (True, site.clock.now())


async def test_a_plain_member_who_never_used_the_bot_is_refused(board: Dashboard) -> None:
    site = board.site
    await site.sign_in(BOB, "/admin")
    page = await site.browser.get("/admin")
    assert page.status_code == 403
    assert "The dashboard is for Relais admins." in shown(page)
    async with site.sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == BOB))).one()
    assert (member.is_admin, member.admin_checked_at) == (False, site.clock.now())


async def test_slack_failing_to_say_who_is_admin_still_signs_in_without_the_right(
    board: Dashboard,
) -> None:
    """A failed look-up keeps what Relais knew, as for a chat command: here nothing, so no admin right."""
    site = board.site
    site.fake.fail_next("users.info", status=200, error="internal_error")
    landed = await site.sign_in(ADMIN, "/admin")
    assert landed.status_code == 303
    assert (await site.browser.get("/admin")).status_code == 403


def charts_beside_tables(html: str) -> list[str]:
    """Each chart's block (a flex row that wraps), checked to hold the chart then its table."""
    blocks = html.split('<div class="chart-with-table" style="display:flex;flex-wrap:wrap;')[1:]
    for block in blocks:
        chart, table = block.index("<img "), block.index("<table ")
        assert chart < table
        assert "<img " not in block[table:].split("</table>", 1)[0]
    assert html.count("<img ") == len(blocks)  # no chart without its table beside it
    return blocks


async def test_every_chart_has_its_table_beside_it(board: Dashboard) -> None:
    await board.admin()
    page = await board.site.browser.get("/admin?period=4")
    assert len(charts_beside_tables(page.text)) == 3  # shares, clicks, participation
    post = await board.site.browser.get(f"/admin/posts/{board.seeded.news}?period=4")
    [clicks] = charts_beside_tables(post.text)
    assert re.search(r"<td>2026-11-23</td><td>3</td><td>0</td><td>3</td>", clicks)
    assert "<script" not in page.text + post.text
