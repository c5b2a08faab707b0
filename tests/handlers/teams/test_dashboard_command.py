"""`dashboard` in Teams: the same command as Slack's `/relais dashboard` (one table for both platforms): an
admin gets the dashboard's link, a member the admins-only refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import ANN, BOB, Team, card_text, installed_team


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    bot_framework: FakeBotFramework,
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


async def test_an_admin_gets_the_dashboards_link_and_a_member_is_refused(team: Team) -> None:
    (reply,) = await team.say(team.personal(ANN, "dashboard"))
    assert "The dashboard: [open it in your browser](https://relais.example.test/admin)" in card_text(reply)
    (refused,) = await team.say(team.personal(BOB, "dashboard"))
    shown = card_text(refused)
    assert "Only Relais admins can use dashboard. Ask a workspace admin if you need it." in shown
    assert "/admin" not in shown
