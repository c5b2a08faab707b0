"""Where a share came from, through POST /slack/events: a share clicked under the post's card in a channel
records that channel; one from the reminder in the member's DM records none, and the first place counts.
The post's page on the dashboard counts them per channel, as `relais export shares` does."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import SlackDriver
from models import Delivery, Share
from scheduler import jobs
from tests.bot.test_cli import relais
from tests.handlers.slack.driver import START, SettingsFactory, eventually, relais_app, setup_workspace
from tests.handlers.slack.test_shared_mark import LATER, NUDGE_TIME, clock_job
from tests.handlers.slack.test_signin import Browser, Site, _settings, shown

# Dan (UEMP1, Slack locale fr-FR) is an admin too, by RELAIS_ADMINS.
ADMIN, BOB, CARLA, DAN = "UADMIN", "UEMP2", "UEMP3", "UEMP1"


def row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


@pytest.fixture
async def site(
    make_settings: SettingsFactory, empty_database_url: str, fake_slack: FakeSlack
) -> AsyncIterator[tuple[SlackDriver, Site]]:
    """The app on a database `relais migrate` made (the share's channel comes from the migration), so
    that `relais export` reads it too."""
    migrated = await asyncio.to_thread(relais, "migrate", DATABASE_URL=empty_database_url)
    assert migrated.returncode == 0, migrated.stderr
    setup_workspace(fake_slack)
    clock = FrozenClock(START)
    settings = _settings(make_settings, fake_slack, database_url=empty_database_url, relais_admins=DAN)
    engine = db.create_engine(empty_database_url)
    try:
        async with relais_app(settings, engine, clock, fake_slack) as driver:
            yield driver, Site(Browser(driver.client), fake_slack, clock, db.session_factory(engine))
    finally:
        await engine.dispose()


async def _queue(slack: SlackDriver, site: Site, article: str) -> dict[str, Any]:
    """Queue `article` into #news as the admin; the channel message once it is delivered."""
    await slack.command(ADMIN, f"queue <{article}/launch> Big news <#C0NEWS|news>")

    async def delivered() -> bool:
        async with site.sessions() as session:
            return bool(await session.scalar(select(func.count()).select_from(Delivery)))

    await eventually(delivered)
    return slack.fake.messages["C0NEWS"][-1]


async def _share(slack: SlackDriver, user: str, network: str, *, channel: str, ts: str) -> None:
    """Share as a member does: Share under the card, then open the personal link it answers with (an
    ephemeral message in the same conversation)."""
    clicked = await slack.click(user, f"share_{network}", "1", channel=channel, message_ts=ts)
    assert clicked.status == 200
    answer = (await slack.responses(clicked.url_id))[0]
    button = answer["blocks"][1]["elements"][0]
    assert button["action_id"] == f"open_share_{network}"
    opened = await slack.click(
        user, button["action_id"], f"1:{network}", url=button["url"], channel=channel, ephemeral=True
    )
    assert opened.status == 200


async def test_a_share_records_the_channel_of_the_card_clicked_and_the_post_page_counts_them(
    site: tuple[SlackDriver, Site], article: str, empty_database_url: str
) -> None:
    slack, web = site
    card = await _queue(slack, web, article)
    ts = card["ts"]
    await slack.command(BOB, "me")  # Bob, in London, is known to Relais: he gets the week's reminder
    await jobs.run_job(clock_job(slack.fake, web.sessions, NUDGE_TIME), "nudges")
    dm = slack.fake.dm_channel_id(BOB)
    (nudge,) = slack.fake.messages[dm]
    web.clock.set(LATER)
    await _share(slack, BOB, "linkedin", channel=dm, ts=nudge["ts"])  # from his reminder
    await _share(slack, CARLA, "linkedin", channel="C0NEWS", ts=ts)
    await _share(slack, DAN, "x", channel="C0NEWS", ts=ts)
    # Bob shares it again from the channel's card: the first place counts, nothing changes.
    await _share(slack, BOB, "linkedin", channel="C0NEWS", ts=ts)

    async with web.sessions() as session:
        rows = (await session.execute(select(Share.network, Share.channel).order_by(Share.id))).all()
    assert [(network.value, channel) for network, channel in rows] == [
        ("linkedin", None),
        ("linkedin", "C0NEWS"),
        ("x", "C0NEWS"),
    ]

    await slack.command(ADMIN, "dashboard")  # Relais knows the admin and their admin flag
    await web.sign_in(ADMIN, "/admin")
    page = await web.browser.get("/admin/posts/1?period=4")
    assert page.status_code == 200
    text = shown(page)
    assert "<h2>Shares by channel they came from</h2>" in text
    assert row("C0NEWS", 1, 1, 2) in text
    assert row("From a reminder or a personal link", 1, 0, 1) in text

    table = await web.browser.get("/admin/posts/1/sharechannels.csv?period=4")
    assert table.status_code == 200
    assert table.text.splitlines() == [
        "channel,name,shares_linkedin,shares_x,shares",
        "C0NEWS,C0NEWS,1,1,2",
        ",,1,0,1",
    ]

    exported = await asyncio.to_thread(relais, "export", "shares", DATABASE_URL=empty_database_url)
    assert exported.returncode == 0, exported.stderr
    counted = Counter(
        (r["channel"], r["network"])
        for r in csv.DictReader(io.StringIO(exported.stdout))
        if r["counted"] == "true" and r["post_id"] == "1"
    )
    assert counted == {("C0NEWS", "linkedin"): 1, ("C0NEWS", "x"): 1, ("", "linkedin"): 1}

    # A French admin reads the same table in French.
    await slack.command(DAN, "dashboard")
    dans = Site(Browser(slack.client), web.fake, web.clock, web.sessions)  # his own browser
    await dans.sign_in(DAN, "/admin")
    french = shown(await dans.browser.get("/admin/posts/1?period=4"))
    assert "<h2>Partages par canal d'origine</h2>" in french
    assert row("C0NEWS", 1, 1, 2) in french
    assert row("Depuis un rappel ou un lien personnel", 1, 0, 1) in french
