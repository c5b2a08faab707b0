"""Enterprise Grid through the real entry points (installs through OAuth v2 against the fake Slack, signed
requests into the running app): a workspace first met through an event under its organisation's
installation has its organisation recorded (so a Grid-wide erasure reaches it), and every event acts only
in a workspace its installation serves."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from models import Member, Workspace
from tests.erasure_scan import leftovers
from tests.handlers.slack.driver import TEAM, SlackDriver, eventually, relais_app
from tests.handlers.slack.test_install import GLOBEX, Sessions, _count, _workspace, install
from tests.handlers.slack.test_install import settings as settings  # the installs' fixtures
from tests.handlers.slack.test_install import web as web
from tests.handlers.slack.test_social import _button

ORG = "E0001"
EAST, WEST = "T0EAST", "T0WEST"


def _initech(fake_slack: FakeSlack) -> None:
    for team, name in ((EAST, "Initech East"), (WEST, "Initech West")):
        fake_slack.add_team(team, name, enterprise_id=ORG, enterprise_name="Initech")


def _org_driver(web: SlackDriver, team: str) -> SlackDriver:
    return SlackDriver(web.client, web.fake, team=team, enterprise=ORG, org_install=True)


def _home_opened(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}


async def _home_published(fake_slack: FakeSlack, user: str) -> bool:
    return user in fake_slack.home_views


async def _members_named(sessions: Sessions, user: str) -> dict[str, int]:
    """The id of each member row with this Slack user id, by team."""
    async with sessions() as session:
        rows = await session.execute(
            select(Workspace.external_id, Member.id)
            .join(Workspace, Workspace.id == Member.workspace_id)
            .where(Member.external_id == user)
        )
        return {str(team): int(member_id) for team, member_id in rows}


async def _erased(sessions: Sessions, member_ids: list[int]) -> bool:
    async with sessions() as session:
        found = await session.scalars(select(Member.erased_at).where(Member.id.in_(member_ids)))
        return len(stamps := found.all()) == len(member_ids) and all(stamp is not None for stamp in stamps)


async def _forget_me(slack: SlackDriver, user: str) -> dict[str, Any]:
    confirm = _button(await slack.command(user, "forget-me"), "forget_me_confirm")
    clicked = await slack.click(
        user, "forget_me_confirm", confirm["value"], channel="C0GENERAL", ephemeral=True
    )
    [done] = await slack.responses(clicked.url_id)
    return done


async def test_a_workspace_first_met_through_an_event_is_of_its_org_and_erased_with_it(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    """The org-wide installation names no team in an event's `authorizations` (Bolt's `context.team_id` is
    None): the Home is published in the event's workspace, whose row records the organisation; then the
    member's forget-me in another workspace of the organisation erases them in both."""
    _initech(fake_slack)
    await install(web, "UADMIN", enterprise=ORG)
    east, west = _org_driver(web, EAST), _org_driver(web, WEST)

    assert await west.event(_home_opened("UEMP2"), event_id="EvHOME") == 200
    await eventually(lambda: _home_published(fake_slack, "UEMP2"))
    row = await _workspace(sessions, WEST)
    assert row is not None
    assert (row.enterprise_id, row.uninstalled_at) == (ORG, None)
    assert await _workspace(sessions, "None") is None  # never Bolt's missing team, as a string
    assert list(await _members_named(sessions, "UEMP2")) == [WEST]

    assert (await east.command("UEMP2", "me"))["text"].startswith("*Your sharing*")
    assert (await _workspace(sessions, EAST)).enterprise_id == ORG  # type: ignore[union-attr]
    members = await _members_named(sessions, "UEMP2")
    assert sorted(members) == [EAST, WEST]
    assert not await _erased(sessions, list(members.values()))
    done = await _forget_me(east, "UEMP2")
    assert done["text"].startswith("Your data is erased.")
    assert await _erased(sessions, list(members.values()))
    assert await leftovers(sessions, ["UEMP2"]) == []


async def test_a_workspace_lacking_its_org_gets_it_when_next_seen_through_the_org(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """A workspace row met before its organisation was known (an event of an earlier version) has it
    filled in by the next event through the organisation's installation."""
    _initech(fake_slack)
    async with sessions() as session:
        session.add(
            Workspace(platform="slack", external_id=WEST, created_at=clock.now(), updated_at=clock.now())
        )
        await session.commit()
    await install(web, "UADMIN", enterprise=ORG)
    assert (await _workspace(sessions, WEST)).enterprise_id is None  # type: ignore[union-attr]
    assert await _org_driver(web, WEST).event(_home_opened("UEMP1"), event_id="EvLATER") == 200
    await eventually(lambda: _home_published(fake_slack, "UEMP1"))
    assert (await _workspace(sessions, WEST)).enterprise_id == ORG  # type: ignore[union-attr]


async def test_an_event_for_a_workspace_its_installation_does_not_serve_writes_nothing(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Events are checked as commands and clicks are: through an organisation's installation, a team of
    another organisation, or one the installation lost access to; through a workspace's own installation,
    an event whose workspace is another. Each is answered 200 (Slack must not retry it), and no row is
    written, nothing published."""
    _initech(fake_slack)
    await install(web, "UADMIN", enterprise=ORG)
    await install(web, "UGADMIN", team=GLOBEX)
    # A team of another organisation, met through that organisation's own installation.
    fake_slack.add_team("T0UMBRELLA", "Umbrella", enterprise_id="E0009", enterprise_name="Umbrella")
    await install(web, "UADMIN", enterprise="E0009")
    umbrella = SlackDriver(web.client, fake_slack, team="T0UMBRELLA", enterprise="E0009", org_install=True)
    assert (await umbrella.command("UEMP2", "me"))["text"].startswith("*Your sharing*")
    east, west = _org_driver(web, EAST), _org_driver(web, WEST)
    assert (await west.command("UEMP1", "me"))["text"].startswith("*Vos partages*")  # Élodie speaks French
    revoked = {"type": "team_access_revoked", "team_ids": [WEST]}
    assert await east.event(revoked, event_id="EvREVOKED") == 200

    async def west_stopped() -> bool:
        row = await _workspace(sessions, WEST)
        return row is not None and row.uninstalled_at is not None

    await eventually(west_stopped)
    members = await _count(sessions, Member)
    for team, event_id in (("T0UMBRELLA", "EvOTHERORG"), (WEST, "EvSTOPPED")):
        assert await _org_driver(web, team).event(_home_opened("UEMP2"), event_id=event_id) == 200

    # Authorized for Globex's own installation, naming Acme (which never installed) as its workspace.
    envelope = {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0001",
        "event": _home_opened("UEMP2"),
        "type": "event_callback",
        "event_id": "EvFORGED",
        "event_time": int(clock.now().timestamp()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": GLOBEX,
                "user_id": fake_slack.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
    }
    forged = await web.post(json.dumps(envelope).encode(), "application/json")
    assert forged.status_code == 200
    await web.settle()
    assert "UEMP2" not in fake_slack.home_views
    assert await _count(sessions, Member) == members
    assert await _workspace(sessions, TEAM) is None
    assert (await _workspace(sessions, "T0UMBRELLA")).enterprise_id == "E0009"  # type: ignore[union-attr]

    # The same event, authorized for the workspace it names, is served.
    globex = SlackDriver(web.client, fake_slack, team=GLOBEX)
    assert await globex.event(_home_opened("UGEMP"), event_id="EvGLOBEX") == 200
    await eventually(lambda: _home_published(fake_slack, "UGEMP"))
    assert list(await _members_named(sessions, "UGEMP")) == [GLOBEX]


async def test_an_admin_named_with_their_workspace_is_admin_there_only(
    web: SlackDriver, settings: Settings, engine: AsyncEngine, clock: FrozenClock, fake_slack: FakeSlack
) -> None:
    """With installs, RELAIS_ADMINS names each admin with their workspace (`<team id>:<user id>`): the same
    user id in another workspace (another company's person) is no admin there."""
    named = Settings(_env_file=None, **{**settings.model_dump(), "relais_admins": f" {TEAM}:UEMP2 "})
    async with relais_app(named, engine, clock, fake_slack) as acme:
        await install(acme, "UADMIN")
        await install(acme, "UGADMIN", team=GLOBEX)
        globex = SlackDriver(acme.client, fake_slack, team=GLOBEX)
        assert "Only Relais admins" not in (await acme.command("UEMP2", "stats"))["text"]
        assert (await globex.command("UEMP2", "stats"))["text"].startswith("Only Relais admins")
        assert "Only Relais admins" not in (await globex.command("UGADMIN", "stats"))["text"]  # Slack's admin

        # Suggestions are reviewed by each workspace's own admins: UEMP2 in Acme, never in Globex.
        for slack, author, idea in ((globex, "UGEMP", "globex-idea"), (acme, "UEMP1", "acme-idea")):
            asked = await slack.command(author, f"suggest <https://news.example.com/{idea}> Worth it")
            assert "sent" in asked["text"].lower() or "envoy" in asked["text"].lower(), asked

        def reviews_of(user: str) -> str:
            return str(fake_slack.messages.get(fake_slack.dm_channel_id(user), []))

        await eventually(lambda: _true("acme-idea" in reviews_of("UEMP2")))
        await eventually(lambda: _true("globex-idea" in reviews_of("UGADMIN")))
        assert "globex-idea" not in reviews_of("UEMP2")


async def _true(value: bool) -> bool:
    return value
