"""What the web process sends for Teams right after a turn (`handlers.teams.platform.TeamsSender`): every
invoke asks for it, so a burst of clicks must not become a burst of outbox passes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services import delivery
from models import Dismissal
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import Team, button, installed_team

Sessions = async_sessionmaker[AsyncSession]
MESSAGE = "application/vnd.microsoft.activity.message"


@pytest.fixture
async def team(
    teams_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


async def test_a_burst_of_clicks_drains_the_outbox_one_pass_at_a_time(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    card_id, card = await team.published()
    real = delivery.deliver
    running = peak = passes = 0

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak, passes
        running, passes = running + 1, passes + 1
        peak = max(peak, running)
        try:
            return await real(*args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(delivery, "deliver", counted)
    people = [{"id": f"29:p{n}", "name": f"Person {n}", "aadObjectId": f"aad-p{n}"} for n in range(20)]
    clicks = [team.invoke(person, button(card, "not_for_me"), card_id=card_id) for person in people]

    answers = await asyncio.gather(*(team.teams.post(click) for click in clicks))
    await team.teams.settle()

    assert [(answer.status_code, answer.json()["type"]) for answer in answers] == [(200, MESSAGE)] * 20
    async with team.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Dismissal)) == 20
    assert peak == 1
    assert 1 <= passes < 20
