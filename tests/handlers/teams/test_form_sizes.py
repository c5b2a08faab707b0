"""Forms through `/api/messages` whatever a submission carries: each text field says how long it may be
(the core's limits), and a refused form comes back with what was typed cut to those limits, only the
choices it offered, and the whole answer (an invoke's, or a message with its summary and envelope) under
80 KB as Teams counts it (UTF-16); Teams refuses about 100 KB."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import REPLY, message_size
from bot.services.posts import LINKEDIN_MAX
from bot.services.preview.urls import MAX_URL_LENGTH
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import ANN, ANN_CHAT, BOB, Team, button, elements, filled, installed_team

Sessions = async_sessionmaker[AsyncSession]
LIMIT = 80_000
HUGE = 150_000
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in elements(card) if str(e.get("type", "")).startswith("Input.")}


async def queue_form(team: Team) -> tuple[dict[str, Any], str]:
    (form,) = await team.say(team.personal(ANN, "queue"))
    return form["attachments"][0]["content"], team.connector.activities(ANN_CHAT)[-1]["id"]


def forged(card: dict[str, Any], caption: str) -> dict[str, Any]:
    """The queue form submitted by a client that ignores the fields' limits (or no client at all), within
    the 1 MB Relais reads of a request."""
    return filled(
        card,
        "queue_submit",
        url="not a link " + "x" * 40_000,
        caption_1=caption,
        caption_2=caption,
        networks="linkedin," + "z" * 20_000,
        channels=",".join(f"19:forged-{n}@thread.tacv2" for n in range(1_000)),
        publish_date="9" * 10_000,
        publish_time="1" * 10_000,
        expires_on="2" * 10_000,
    )


async def test_the_queue_forms_fields_say_how_long_they_may_be(team: Team) -> None:
    card, _ = await queue_form(team)
    fields = inputs(card)
    assert fields["url"]["maxLength"] == MAX_URL_LENGTH
    assert [fields[f"caption_{n}"]["maxLength"] for n in (1, 2, 3)] == [LINKEDIN_MAX] * 3


async def test_a_refused_queue_form_with_huge_values_comes_back_small(team: Team) -> None:
    card, form_id = await queue_form(team)
    response = await team.teams.post(team.invoke_in_chat(ANN, forged(card, "é" * HUGE), card_id=form_id))
    assert response.status_code == 200
    assert message_size(response.json()) < LIMIT
    answer = response.json()
    assert answer["type"] == CARD
    fields = inputs(answer["value"])
    assert fields["caption_1"]["value"] == "é" * LINKEDIN_MAX  # what was typed, up to what is taken
    assert fields["url"]["value"] == ("not a link " + "x" * 40_000)[:MAX_URL_LENGTH]
    assert fields["networks"]["value"] == "linkedin"  # only choices the form offers
    assert len(fields["channels"]["choices"]) <= 50
    assert len(fields["publish_date"]["value"]) <= 32
    assert [e for e in elements(answer["value"]) if e.get("color") == "Attention"]  # the refusals shown
    assert await team.posts() == 0


async def test_a_form_of_characters_json_spells_at_length_still_fits(team: Team) -> None:
    """A control character is six characters in JSON (`\\u0001`): three full captions of them alone
    would be over 100 KB. What the fields show again is cut further."""
    card, form_id = await queue_form(team)
    body = forged(card, "\x01" * 30_000)
    body["data"]["caption_3"] = "\x01" * 30_000
    response = await team.teams.post(team.invoke_in_chat(ANN, body, card_id=form_id))
    assert response.status_code == 200
    assert message_size(response.json()) < LIMIT
    fields = inputs(response.json()["value"])
    assert 0 < len(fields["caption_1"]["value"]) < LINKEDIN_MAX
    assert set(fields["caption_1"]["value"]) == {"\x01"}


async def test_a_form_submitted_without_universal_actions_is_answered_in_a_message_under_the_limit(
    team: Team,
) -> None:
    """The `Action.Submit` fallback: the refused form comes back as a message in Ann's chat, its summary
    and envelope counted."""
    card, form_id = await queue_form(team)
    data = forged(card, "\x01" * 30_000)["data"]
    data["caption_3"] = "\x01" * 30_000
    before = len(team.connector.calls)
    body = team.personal(ANN, "", value=data, replyToId=form_id)
    assert (await team.teams.post(body)).status_code == 202
    (sent,) = [c for c in team.connector.calls[before:] if c.operation == REPLY]
    assert sent.status == 201
    assert message_size(sent.body) < LIMIT
    assert inputs(sent.body["attachments"][0]["content"])["caption_1"]["maxLength"] == LINKEDIN_MAX


async def test_a_refused_edit_and_share_with_a_huge_caption_comes_back_small(team: Team) -> None:
    card_id, post = await team.published()
    form = await team.click(team.invoke(BOB, button(post, "edit_share"), card_id=card_id))
    assert form["type"] == CARD
    assert inputs(form["value"])["caption"]["maxLength"] == LINKEDIN_MAX
    submitted = filled(form["value"], "edit_submit", caption="é" * HUGE, network="z" * HUGE)
    response = await team.teams.post(team.invoke(BOB, submitted, card_id=card_id))
    assert response.status_code == 200
    assert message_size(response.json()) < LIMIT
    answer = response.json()
    assert answer["type"] == CARD, json.dumps(answer)[:500]
    fields = inputs(answer["value"])
    assert fields["caption"]["value"] == "é" * LINKEDIN_MAX
    assert fields["network"]["value"] in {"linkedin", "x"}  # an offered one, not what was sent
