"""RELAIS_ADMINS may name an admin with their Enterprise Grid organisation (`E…:<user id>`): in a Grid
organisation a user id names one person in all of its workspaces, so that person is an admin in each of
them (the admins' commands, and the suggestions to review), and in no workspace of another company."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from tests.handlers.slack.driver import SlackDriver, eventually, relais_app
from tests.handlers.slack.test_grid import EAST, ORG, WEST, _initech, _org_driver, _true
from tests.handlers.slack.test_install import GLOBEX, install
from tests.handlers.slack.test_install import settings as settings  # the installs' fixtures
from tests.handlers.slack.test_install import web as web

REFUSED = "Only Relais admins"


async def test_an_admin_named_with_their_organisation_is_admin_in_each_of_its_workspaces(
    web: SlackDriver, settings: Settings, engine: AsyncEngine, clock: FrozenClock, fake_slack: FakeSlack
) -> None:
    """`web` (the installs' app, unused) sets up the fake Slack's people and Bolt's environment."""
    _initech(fake_slack)
    named = Settings(_env_file=None, **{**settings.model_dump(), "relais_admins": f"{ORG}:UEMP2"})
    async with relais_app(named, engine, clock, fake_slack) as app:
        await install(app, "UADMIN", enterprise=ORG)
        await install(app, "UGADMIN", team=GLOBEX)
        east, west = _org_driver(app, EAST), _org_driver(app, WEST)
        globex = SlackDriver(app.client, fake_slack, team=GLOBEX)
        for slack in (east, west):
            assert REFUSED not in (await slack.command("UEMP2", "stats"))["text"], slack.team
        assert (await globex.command("UEMP2", "stats"))["text"].startswith(REFUSED)
        assert REFUSED not in (await globex.command("UGADMIN", "stats"))["text"]  # Slack's admin there
        assert (await west.command("UEMP3", "stats"))["text"].startswith(REFUSED)  # not named

        # The suggestions of each workspace of the organisation are sent to them, not another company's.
        for slack, author, idea in ((globex, "UGEMP", "globex-idea"), (west, "UEMP1", "west-idea")):
            asked = await slack.command(author, f"suggest <https://news.example.com/{idea}> Worth it")
            assert "sent" in asked["text"].lower() or "envoy" in asked["text"].lower(), asked

        def reviews_of(user: str) -> str:
            return str(fake_slack.messages.get(fake_slack.dm_channel_id(user), []))

        await eventually(lambda: _true("west-idea" in reviews_of("UEMP2")))
        await eventually(lambda: _true("globex-idea" in reviews_of("UGADMIN")))
        assert "globex-idea" not in reviews_of("UEMP2")
