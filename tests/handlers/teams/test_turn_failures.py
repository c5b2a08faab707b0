"""What a person gets when Teams refuses Relais's answer for a while, or when a turn fails, through
`/api/messages`: an answer refused for a moment is sent once Teams takes it (its `Retry-After` honoured,
within a few seconds), one refused for longer is logged and dropped without failing the request, an
invoke always gets a documented answer (never an HTTP 5xx), and every answer keeps the tenant's pace."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import CREATE, REPLY, SEND
from bot.services.outbox import WORKSPACE_KEY
from models import Workspace
from models.outbox import OutboxPacing
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import OUTBOUND_TOKEN, SettingsFactory
from tests.handlers.teams.team import BOB, BOB_CHAT, Team, card_text, installed_team

Sessions = async_sessionmaker[AsyncSession]
HELP = "Relais** helps you share company news"


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


async def test_an_answer_throttled_once_arrives_once_after_teams_retry_after(team: Team) -> None:
    team.connector.fail_next(REPLY, status=429, retry_after=1)
    started = asyncio.get_running_loop().time()
    await team.say(team.personal(BOB, "help"))
    assert asyncio.get_running_loop().time() - started >= 1.0  # Teams asked for a second
    assert [call.status for call in team.connector.calls_to(REPLY)] == [429, 201]
    (answer,) = team.connector.activities(BOB_CHAT)  # shown once
    assert HELP in card_text(answer)


async def test_an_answer_from_a_channel_throttled_once_arrives_once_in_the_persons_chat(team: Team) -> None:
    team.connector.fail_next(SEND, status=429, retry_after=0)
    team.connector.fail_next(CREATE, status=502)
    await team.say(team.in_channel(BOB, "help"))
    assert [call.status for call in team.connector.calls_to(CREATE)] == [502, 201]
    assert [call.status for call in team.connector.calls_to(SEND)] == [429, 201]
    (answer,) = team.connector.activities(BOB_CHAT)  # shown once, in his own chat
    assert HELP in card_text(answer)


async def test_an_answer_teams_keeps_refusing_is_logged_and_the_message_is_still_taken(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    team.connector.fail_next(REPLY, status=503, retry_after=None, times=3)
    body = team.personal(BOB, "help")
    response = await team.teams.post(body)
    assert response.status_code == 202
    await team.teams.settle()
    assert [call.status for call in team.connector.calls_to(REPLY)] == [503, 503, 503]
    assert team.connector.activities(BOB_CHAT) == []
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "handlers.teams.replies"]
    assert logged == "an answer in Teams was not sent (Teams answered 503 ServiceUnavailable, 3 attempt(s))"
    assert OUTBOUND_TOKEN not in caplog.text


async def test_a_wait_longer_than_a_turn_may_take_is_not_waited(team: Team) -> None:
    """Teams asks for a minute: the answer is not worth holding the turn (and Teams' own retry) that long."""
    team.connector.fail_next(REPLY, status=429, retry_after=60)
    assert (await team.teams.post(team.personal(BOB, "help"))).status_code == 202
    assert [call.status for call in team.connector.calls_to(REPLY)] == [429]


async def test_answers_take_a_slot_of_the_tenants_shared_pace(team: Team) -> None:
    """The tenant's 50 requests a second are shared by every process's notifier and its turns' answers
    (`outbox_pacing`, the workspace's own row)."""
    async with team.sessions() as session:
        workspace_id = (await session.scalars(select(Workspace.id))).one()
        before = await session.scalar(
            select(OutboxPacing.next_slot_ms).where(
                OutboxPacing.workspace_id == workspace_id, OutboxPacing.destination == WORKSPACE_KEY
            )
        )
    await team.say(team.personal(BOB, "help"))
    async with team.sessions() as session:
        after = await session.scalar(
            select(OutboxPacing.next_slot_ms).where(
                OutboxPacing.workspace_id == workspace_id, OutboxPacing.destination == WORKSPACE_KEY
            )
        )
    assert after is not None
    assert before is None or after > before


async def test_an_invoke_relais_does_not_handle_is_refused_in_the_persons_language(team: Team) -> None:
    body = team.personal(BOB, "", type="invoke", name="composeExtension/query", locale="fr-FR")
    response = await team.teams.post(body)
    assert response.status_code == 200
    assert response.json() == {
        "statusCode": 400,
        "type": "application/vnd.microsoft.error",
        "value": {
            "code": "BadRequest",
            "message": "Relais ne sait rien faire de cette action ; rien n'a été modifié.",
        },
    }


async def test_a_failed_invoke_is_answered_in_the_persons_language(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """Bob's Share in his own chat: Teams refuses the message with his link, again and again."""
    _, card = await team.published()
    button = next(a for a in _actions(card) if a.get("verb") == "share_linkedin")
    click = team.invoke_in_chat(BOB, button, card_id="1764200000123")
    click["locale"] = "fr-FR"
    team.connector.fail_next(REPLY, status=503, retry_after=0, times=3)
    with caplog.at_level(logging.ERROR):
        response = await team.teams.post(click)
    assert response.status_code == 200
    assert response.json()["statusCode"] == 500
    assert response.json()["value"]["message"] == (
        "Un problème de mon côté ; rien n'a été modifié. Réessayez, s'il vous plaît."
    )
    assert "a Teams invoke failed" in caplog.text


def _actions(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "Action.Execute" else []
        return found + [a for value in node.values() for a in _actions(value)]
    if isinstance(node, list):
        return [a for item in node for a in _actions(item)]
    return []
