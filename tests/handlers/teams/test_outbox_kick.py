"""A turn in one tenant sends what waits in that tenant only: the sending Relais starts after each turn
drains the turn's own workspace, and leaves every other tenant's messages to the clock (with many
workspaces, each turn drained them all)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_teams import SEND, FakeTeams
from bot.services import outbox
from bot.services.connections import CONNECTED_KIND
from handlers.teams.platform import TEAMS_SENDER_KEY
from models import OutboxMessage, OutboxState, Share, Workspace
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import START, TENANT, SettingsFactory, teams_app
from tests.handlers.teams.team import Team
from tests.handlers.teams.test_cards import browse, connect_linkedin, count, personal_link
from tests.handlers.teams.test_cards import team as team  # the installed team, LinkedIn configured
from tests.handlers.teams.test_install import CHANNEL, team_activity

Sessions = async_sessionmaker[AsyncSession]
OTHER_TENANT = "tenant-2"
OTHER_CHANNEL = "19:other-general@thread.tacv2"


def _install(service_url: str, tenant: str, channel: str) -> dict[str, Any]:
    """Relais added to a team of `tenant` whose General channel is `channel`."""
    return team_activity(
        service_url,
        "installationUpdate",
        action="add",
        conversation={"id": channel, "conversationType": "channel", "isGroup": True, "tenantId": tenant},
        channelData={
            "tenant": {"id": tenant},
            "team": {"id": channel, "name": tenant, "aadGroupId": f"group-{tenant}"},
            "channel": {"id": channel},
            "settings": {"selectedChannel": {"id": channel}},
        },
    )


async def _welcomes(sessions: Sessions) -> dict[str, OutboxState]:
    async with sessions() as session:
        rows = await session.execute(
            select(Workspace.external_id, OutboxMessage.state)
            .join(Workspace, Workspace.id == OutboxMessage.workspace_id)
            .where(OutboxMessage.kind == "welcome")
        )
        return {str(tenant): state for tenant, state in rows.all()}


async def test_a_turn_in_one_tenant_sends_its_welcome_and_leaves_another_tenant_s_due_one_to_the_clock(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    """The other tenant's welcome was refused once (503) and is due again; Relais is then installed in
    the first tenant: that turn's welcome goes out at once, the other tenant's stays waiting, and the
    next drain of every workspace (the clock's) sends it, once."""
    fake_teams.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
    for channel in (CHANNEL, OTHER_CHANNEL):
        fake_teams.add_conversation(channel)
    fake_teams.fail_next(SEND, status=503, retry_after=1)
    clock = FrozenClock(START)
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams, clock=clock) as teams:
        assert (
            await teams.post(_install(fake_teams.service_url, OTHER_TENANT, OTHER_CHANNEL))
        ).status_code == 202
        await teams.settle()
        assert await _welcomes(sessions) == {OTHER_TENANT: OutboxState.PENDING}
        clock.advance(timedelta(seconds=2))  # past the Retry-After and its jitter: due again

        assert (await teams.post(_install(fake_teams.service_url, TENANT, CHANNEL))).status_code == 202
        await teams.settle()

        assert len(fake_teams.activities(CHANNEL)) == 1
        assert fake_teams.activities(OTHER_CHANNEL) == []
        assert await _welcomes(sessions) == {TENANT: OutboxState.SENT, OTHER_TENANT: OutboxState.PENDING}

        assert teams.app is not None
        teams.app[TEAMS_SENDER_KEY].soon()  # every Teams workspace, as the clock drains them
        await teams.settle()
    assert len(fake_teams.activities(OTHER_CHANNEL)) == 1
    assert len(fake_teams.activities(CHANNEL)) == 1
    assert await _welcomes(sessions) == {TENANT: OutboxState.SENT, OTHER_TENANT: OutboxState.SENT}


async def test_a_connection_and_a_share_link_send_in_their_own_tenant_only(team: Team) -> None:
    """Another tenant has a message due. Bob connects LinkedIn (the callback page, then his confirmation
    in his chat at once) and opens his share link (counted): the sending these web requests start is his
    tenant's, and the other tenant's message is not even tried."""
    async with team.sessions() as session:
        session.add(Workspace(platform="teams", external_id=OTHER_TENANT, created_at=START, updated_at=START))
        await session.flush()
        other = (
            await session.scalars(select(Workspace.id).where(Workspace.external_id == OTHER_TENANT))
        ).one()
        await outbox.enqueue(
            session,
            workspace_id=other,
            kind=CONNECTED_KIND,
            destination="aad-someone-else",
            payload={"network": "x", "lang": "en"},
            now=START,
        )
        await session.commit()

    await connect_linkedin(team)  # asserts the confirmation reached Bob's chat
    opened = await browse(team, await personal_link(team, "share_x"))  # not connected to X: a link
    assert opened.status_code == 303
    await team.teams.settle()
    assert await count(team, Share) == 1  # counted: the request started a drain

    async with team.sessions() as session:
        row = (await session.scalars(select(OutboxMessage).where(OutboxMessage.workspace_id == other))).one()
    assert (row.state, row.attempts) == (OutboxState.PENDING, 0)
