"""An Enterprise Grid organisation's own events, as Slack sends them to an org-wide installation: the
envelope names the organisation (`enterprise_id`) and no team, with no `authorizations`
(`team_access_revoked`, `team_access_granted`; see bolt-python's org-app scenario tests). They are
applied; any other event naming no workspace is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from handlers.slack.installations import not_installed_message
from models import Member
from tests.handlers.slack.driver import SlackDriver, eventually
from tests.handlers.slack.test_grid import EAST, ORG, WEST, _home_opened, _initech, _org_driver
from tests.handlers.slack.test_install import GLOBEX, Sessions, _count, _workspace, globex_of, install
from tests.handlers.slack.test_install import settings as settings  # the installs' fixtures
from tests.handlers.slack.test_install import web as web


async def _stopped(sessions: Sessions, team: str) -> bool:
    row = await _workspace(sessions, team)
    return row is not None and row.uninstalled_at is not None


async def _me(slack: SlackDriver, user: str) -> str:
    return str((await slack.command(user, "me"))["text"])


async def test_an_org_revokes_then_grants_again_one_of_its_workspaces(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    """Revoked, the workspace is stopped (its people are told Relais is not installed there) and its
    neighbour goes on; granted again, it is served again. Both events are answered 200."""
    _initech(fake_slack)
    await install(web, "UADMIN", enterprise=ORG)
    east, west = _org_driver(web, EAST), _org_driver(web, WEST)
    assert (await _me(west, "UEMP2")).startswith("*Your sharing*")
    assert (await _me(east, "UEMP2")).startswith("*Your sharing*")

    revoked = {"type": "team_access_revoked", "team_ids": [WEST], "event_ts": "1606805732.987656"}
    assert await west.event(revoked, event_id="EvREVOKE", org_level=True) == 200
    await eventually(lambda: _stopped(sessions, WEST))
    assert await _me(west, "UEMP2") == not_installed_message()
    assert (await _me(east, "UEMP2")).startswith("*Your sharing*")
    assert not await _stopped(sessions, EAST)

    granted = {"type": "team_access_granted", "team_ids": [WEST], "event_ts": "1606805974.000100"}
    assert await west.event(granted, event_id="EvGRANT", org_level=True) == 200

    async def served_again() -> bool:
        row = await _workspace(sessions, WEST)
        return row is not None and row.uninstalled_at is None

    await eventually(served_again)
    assert (await _me(west, "UEMP2")).startswith("*Your sharing*")
    assert (await _workspace(sessions, WEST)).enterprise_id == ORG  # type: ignore[union-attr]


@pytest.mark.parametrize("team_id", ["absent", None], ids=["no-team-id", "null-team-id"])
async def test_an_event_naming_no_workspace_that_is_not_about_the_installation_is_refused(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, team_id: str | None
) -> None:
    """An App Home opened, in an envelope naming the organisation only (no `team_id`, or a null one, and
    no `authorizations`): answered 200 so that Slack does not retry it, nothing published nor written."""
    _initech(fake_slack)
    await install(web, "UADMIN", enterprise=ORG)
    members = await _count(sessions, Member)
    envelope: dict[str, Any] = {
        "token": "verification-token",
        "enterprise_id": ORG,
        "api_app_id": "A0001",
        "event": _home_opened("UEMP2"),
        "type": "event_callback",
        "event_id": "EvNOTEAM",
        "event_time": 1606805732,
    }
    if team_id is None:
        envelope["team_id"] = None
    refused = await web.post(json.dumps(envelope).encode(), "application/json")
    assert (refused.status_code, refused.text) == (200, not_installed_message())
    await web.settle()
    assert "UEMP2" not in fake_slack.home_views
    assert await _count(sessions, Member) == members


async def test_an_org_wide_uninstall_naming_no_team_stops_every_workspace_of_the_org(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """`app_uninstalled` sent as the organisation's own event (as an org-wide app may receive it): every
    workspace the organisation's installation served is stopped; another workspace's goes on."""
    _initech(fake_slack)
    await install(web, "UADMIN", enterprise=ORG)
    await install(web, "UGADMIN", team=GLOBEX)
    east, west, globex = _org_driver(web, EAST), _org_driver(web, WEST), globex_of(web)
    for slack in (east, west, globex):
        assert (await _me(slack, "UEMP2")).startswith("*Your sharing*")
    sent = int(clock.now().timestamp()) + 1  # after the installation
    uninstalled = {"type": "app_uninstalled", "event_ts": f"{sent}.000100"}
    assert await east.event(uninstalled, event_id="EvGONE", event_time=sent, org_level=True) == 200
    await eventually(lambda: _stopped(sessions, EAST))
    await eventually(lambda: _stopped(sessions, WEST))
    assert await _me(west, "UEMP2") == not_installed_message()
    assert (await _me(globex, "UEMP2")).startswith("*Your sharing*")
    assert not await _stopped(sessions, GLOBEX)
