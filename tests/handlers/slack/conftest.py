"""Fixtures of the Slack end-to-end tests: the article page, the clock, and the running app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from tests.handlers.slack.driver import (
    START,
    SettingsFactory,
    SlackDriver,
    article_server,
    relais_app,
    setup_workspace,
)


@pytest.fixture
async def article() -> AsyncIterator[str]:
    async with article_server() as base:
        yield base


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def slack(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> AsyncIterator[SlackDriver]:
    setup_workspace(fake_slack)
    async with relais_app(make_settings(), engine, clock, fake_slack) as driver:
        yield driver
