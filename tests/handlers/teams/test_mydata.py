"""`mydata` on Teams, through `/api/messages`: a bot cannot simply attach a file in a 1:1 chat, so the
member gets the readable summary with a button to `PUBLIC_URL/me/data`, where their browser, signed in
with Microsoft, downloads the whole JSON file; each person gets their own, and nothing else is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import SEND
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import TENANT, SettingsFactory
from tests.handlers.teams.team import ANN, BOB, Team, actions, card_text, installed_team

Sessions = async_sessionmaker[AsyncSession]
DOWNLOAD = "https://relais.example.test/me/data"


@pytest.fixture
async def team(
    teams_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


def _open_urls(reply: dict[str, Any]) -> dict[str, str]:
    """The card's buttons that open a page: their titles and addresses."""
    (attachment,) = reply["attachments"]
    return {
        str(a["title"]): str(a["url"])
        for a in actions(attachment["content"])
        if a["type"] == "Action.OpenUrl"
    }


async def test_mydata_answers_the_summary_with_a_button_to_the_signed_in_download(team: Team) -> None:
    card_id, _ = await team.published()
    await team.click(team.invoke(BOB, {"verb": "not_for_me", "data": {"value": "1"}}, card_id=card_id))
    before = len(team.connector.calls)
    (reply,) = await team.say(team.personal(BOB, "mydata"))
    shown = card_text(reply)
    assert shown.startswith(
        "Here is a summary of what Relais holds about you. Download the whole file (JSON)"
    )
    assert "Not for me answers 1" in shown
    assert "Shares 0" in shown
    assert _open_urls(reply) == {"Download my data": DOWNLOAD}
    assert [call for call in team.connector.calls[before:] if call.operation == SEND] == []  # nothing else

    cookie = await team.signed_in(BOB)
    download = await team.teams.client.get("/me/data", headers={"Cookie": cookie})
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith('attachment; filename="relais-mydata-')
    assert download.headers["cache-control"] == "no-store"
    document = download.json()
    assert document["workspace"]["platform"] == "teams"
    assert document["workspace"]["id"] == TENANT
    assert document["profile"]["member"] == BOB["aadObjectId"]
    assert [d["post_id"] for d in document["not_for_me"]] == [1]
    assert document["chat_reference"]["reference"]["user"]["id"] == BOB["id"]
    for ann in (ANN["aadObjectId"], ANN["id"], ANN["name"]):
        assert ann not in download.text, ann

    # Ann's browser gets Ann's file, whatever the URL says.
    ann_cookie = await team.signed_in(ANN)
    hers = await team.teams.client.get("/me/data?member=aad-bob", headers={"Cookie": ann_cookie})
    assert hers.json()["profile"]["member"] == ANN["aadObjectId"]
    assert hers.json()["not_for_me"] == []
    # Nobody signed in: to the sign-in page first, then back.
    anonymous = await team.teams.client.get("/me/data")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?next=%2Fme%2Fdata")


async def test_mydata_is_said_in_french_to_a_french_client(team: Team) -> None:
    body = team.personal(BOB, "mydata")
    body.update(
        locale="fr-FR", entities=[{"type": "clientInfo", "locale": "fr-FR", "timezone": "Europe/Paris"}]
    )
    (reply,) = await team.say(body)
    shown = card_text(reply)
    assert shown.startswith("Voici un résumé de ce que Relais garde sur vous.")
    assert "Partages 0" in shown
    assert _open_urls(reply) == {"Télécharger mes données": DOWNLOAD}
