"""The language of Relais's answers in Teams follows the locale of each activity, through `/api/messages`:
a person whose Teams switched to French is answered in French from their next click on, even on the
share's fast path (which keeps who clicked in memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import BOB, Team, button, installed_team
from tests.handlers.teams.test_cards import connect_linkedin

Sessions = async_sessionmaker[AsyncSession]
FRENCH = {"locale": "fr-FR", "entities": [{"type": "clientInfo", "locale": "fr-FR"}]}


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    linkedin: FakeLinkedIn,
) -> AsyncIterator[Team]:
    settings = teams_settings(
        encryption_key=Fernet.generate_key().decode(),
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
    )
    async with installed_team(settings, engine, sessions, bot_framework) as installed:
        yield installed


async def test_an_api_share_is_answered_in_the_language_teams_speaks_now(team: Team) -> None:
    card_id, card = await team.published()
    await connect_linkedin(team)  # Bob, in English
    click = team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id)
    click.update(FRENCH)  # his Teams is in French now
    posted = await team.click(click)
    assert posted["value"]["fallbackText"] == "Publié sur LinkedIn. Merci !"
    again = team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id)
    assert "Vous avez déjà partagé ceci sur LinkedIn." in str((await team.click(again | FRENCH))["value"])
    assert (await team.member("aad-bob")).locale == "fr-FR"
