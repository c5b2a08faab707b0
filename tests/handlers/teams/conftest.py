"""Teams fixtures: the Bot Framework's keys and the Bot Connector faked on 127.0.0.1, and settings for a
Teams-only deployment pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Settings
from bot.demo.fake_teams import FakeTeams
from tests.fakes.bot_framework import FakeBotFramework, FakeEntra
from tests.handlers.teams.driver import APP_ID, APP_PASSWORD, TENANT, SettingsFactory


@pytest.fixture
async def bot_framework() -> AsyncIterator[FakeBotFramework]:
    async with FakeBotFramework(app_id=APP_ID) as fake:
        yield fake


@pytest.fixture
async def fake_teams() -> AsyncIterator[FakeTeams]:
    async with FakeTeams(tenant_id=TENANT, bot_id=f"28:{APP_ID}") as fake:
        yield fake


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    """Microsoft Entra ID for the bot's app registration: people sign in to Relais's pages with it."""
    async with FakeEntra(app_id=APP_ID, client_secret=APP_PASSWORD) as fake:
        yield fake


@pytest.fixture
def teams_settings(database_url: str, bot_framework: FakeBotFramework, entra: FakeEntra) -> SettingsFactory:
    """Settings for a Teams-only deployment (no Slack setting at all), Microsoft Entra ID being the fake
    one (sign-in); keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "public_url": "https://relais.example.test",
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": APP_PASSWORD,
            "microsoft_app_type": "MultiTenant",
            "teams_openid_metadata_url": bot_framework.metadata_url,
            "microsoft_login_url": entra.login_url,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make
