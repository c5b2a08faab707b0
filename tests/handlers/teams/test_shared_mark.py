"""A reminder kept true, in Teams: once a member shares a post their sent reminder shows, from anywhere
(the channel's card and their personal share link `/s/<code>`, which Teams' link buttons tell the bot
nothing about; an API post), the reminder in their 1:1 chat is updated in place (`PUT …/activities/{id}`
on the message Relais sent) to say "✓ Shared on LinkedIn" instead of offering that share again. The
share counts once, and opening the link again edits nothing more. "Not for me" is marked the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_teams import UPDATE
from bot.services.shared_marks import NUDGE_UPDATE_KIND
from bot.web import DEPS_KEY
from handlers.teams.platform import TeamsPlatform
from models import OutboxMessage, OutboxState, Share, ShareStatus
from scheduler import jobs
from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import FixedTokens, SettingsFactory
from tests.handlers.teams.team import BOB, Team, actions, button, card_text, installed_team
from tests.handlers.teams.test_cards import browse, connect_linkedin

Sessions = async_sessionmaker[AsyncSession]
# Tuesday 1 December 2026, 10:00 UTC: the reminders' moment (Tuesday 10:00) has come in Paris and UTC.
NUDGE_TIME = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LATER = NUDGE_TIME + timedelta(hours=2)


@pytest.fixture
def settings(teams_settings: SettingsFactory, linkedin: FakeLinkedIn) -> Settings:
    """A Teams-only deployment where members can connect LinkedIn."""
    return teams_settings(
        encryption_key=Fernet.generate_key().decode(),
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
    )


@pytest.fixture
async def team(
    settings: Settings, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> AsyncIterator[Team]:
    async with installed_team(settings, engine, sessions, bot_framework) as installed:
        yield installed


def clock_job(team: Team, settings: Settings, at: datetime) -> jobs.Context:
    """The clock's context for this Teams-only deployment at `at` (`relais jobs run --at`)."""
    clock = FrozenClock(at)
    notifier = TeamsPlatform(tokens=FixedTokens()).notifier(settings, team.sessions, clock)
    return jobs.Context(team.sessions, {"teams": notifier}, clock.now)


async def bobs_reminder(team: Team, settings: Settings) -> tuple[str, str, dict[str, Any]]:
    """This week's reminders go out; Bob's chat with Relais, his reminder's message id and card. The
    web app's clock then moves on a little: Bob reads it later that morning."""
    chat = team.connector.personal_conversation("29:bob")
    assert chat is not None
    before = len(chat.activities)
    assert await jobs.run_job(clock_job(team, settings, NUDGE_TIME), "nudges") == "2 reminders"
    (nudge,) = chat.activities[before:]
    assert "recent post(s) you might like to share" in card_text(nudge)
    assert verbs(nudge) == ["share_linkedin", "share_x", "edit_share", "not_for_me"]
    clock = team.teams.app[DEPS_KEY].clock if team.teams.app is not None else None
    assert isinstance(clock, FrozenClock)
    clock.set(LATER)
    return chat.id, str(nudge["id"]), nudge["attachments"][0]["content"]


def verbs(sent: dict[str, Any]) -> list[str]:
    return [a["verb"] for a in actions(sent) if a["type"] == "Action.Execute"]


def shown(team: Team, chat: str, activity_id: str) -> dict[str, Any]:
    (activity,) = [a for a in team.connector.activities(chat) if a["id"] == activity_id]
    return activity


async def edits(team: Team) -> list[OutboxMessage]:
    async with team.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == NUDGE_UPDATE_KIND)
        return list((await session.scalars(query)).all())


async def shares(team: Team) -> list[Share]:
    async with team.sessions() as session:
        return list((await session.scalars(select(Share))).all())


async def test_a_share_through_the_personal_link_marks_the_reminder_in_place(
    team: Team, settings: Settings
) -> None:
    card_id, card = await team.published()
    chat, nudge_id, _ = await bobs_reminder(team, settings)
    # Bob shares from the channel's card: his personal link, which Teams opens without telling Relais.
    linked = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    (link,) = [a["url"] for a in actions(linked["value"]) if a["type"] == "Action.OpenUrl"]
    assert team.connector.calls_to(UPDATE) == []
    assert (await browse(team, link)).status_code == 303
    # The web process sends the reminder's edit at once (not on the clock's next pass).
    await team.teams.settle()
    (update,) = team.connector.calls_to(UPDATE)
    assert (update.conversation_id, update.activity_id, update.status) == (chat, nudge_id, 200)
    # The same message in Bob's chat: LinkedIn marked shared, its button gone; X still offered (now the
    # first button), with Edit & share; Not for me no longer (he shared it).
    marked = shown(team, chat, nudge_id)
    assert len(team.connector.activities(chat)) == 1
    assert "✓ Shared on LinkedIn" in card_text(marked)
    assert "Shared on X" not in card_text(marked)
    assert "Proud of this one" in card_text(marked)
    assert verbs(marked) == ["share_x", "edit_share"]
    (share,) = await shares(team)
    assert share.status is ShareStatus.INTENT
    (edit,) = await edits(team)
    assert edit.state is OutboxState.SENT

    # Opened again (another tab, the browser's history): the share is counted once and nothing more is
    # edited.
    assert (await browse(team, link)).status_code == 303
    await team.teams.settle()
    assert await jobs.run_job(clock_job(team, settings, LATER), "outbox") == "0 API shares, 0 messages"
    assert len(team.connector.calls_to(UPDATE)) == 1
    assert len(await shares(team)) == 1
    assert len(await edits(team)) == 1

    # Then X, from the reminder itself: both marked, no button left.
    reminder = marked["attachments"][0]["content"]
    await team.click(team.invoke_in_chat(BOB, button(reminder, "share_x"), card_id=nudge_id))
    # In his chat the link comes as a message of its own (the reminder stays whole).
    (link,) = [
        a["url"] for a in actions(team.connector.activities(chat)[-1]) if a["type"] == "Action.OpenUrl"
    ]
    assert (await browse(team, link)).status_code == 303
    await team.teams.settle()
    (_, update) = team.connector.calls_to(UPDATE)
    assert (update.conversation_id, update.activity_id) == (chat, nudge_id)
    marked = shown(team, chat, nudge_id)
    assert "✓ Shared on LinkedIn" in card_text(marked)
    assert "✓ Shared on X" in card_text(marked)
    assert verbs(marked) == []
    assert sorted(share.network.value for share in await shares(team)) == ["linkedin", "x"]


async def test_a_share_posted_through_the_api_marks_the_reminder_in_place(
    team: Team, settings: Settings
) -> None:
    card_id, card = await team.published()
    await connect_linkedin(team)
    chat, nudge_id, _ = await bobs_reminder(team, settings)
    posted = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    assert "Posted on LinkedIn. Thank you!" in str(posted["value"])
    # Relais sent what the click enqueued once the invoke was answered: the reminder's edit among it.
    (update,) = team.connector.calls_to(UPDATE)
    assert (update.conversation_id, update.activity_id) == (chat, nudge_id)
    marked = shown(team, chat, nudge_id)
    assert "✓ Shared on LinkedIn" in card_text(marked)
    assert verbs(marked) == ["share_x", "edit_share"]
    (share,) = await shares(team)
    assert share.status is ShareStatus.POSTED


async def test_not_for_me_from_the_reminder_marks_it_in_place(team: Team, settings: Settings) -> None:
    await team.published()
    chat, nudge_id, reminder = await bobs_reminder(team, settings)
    noted = await team.click(team.invoke_in_chat(BOB, button(reminder, "not_for_me"), card_id=nudge_id))
    assert noted["value"] == "Noted: this one is not for you. It won't come back in your reminders."
    (update,) = team.connector.calls_to(UPDATE)
    assert (update.conversation_id, update.activity_id) == (chat, nudge_id)
    marked = shown(team, chat, nudge_id)
    assert "Noted: this one is not for you." in card_text(marked)
    assert "Proud of this one" in card_text(marked)
    assert verbs(marked) == []
    # Clicked again from another client that still shows the buttons: nothing more is edited.
    await team.click(team.invoke_in_chat(BOB, button(reminder, "not_for_me"), card_id=nudge_id))
    assert len(team.connector.calls_to(UPDATE)) == 1
    assert len(await edits(team)) == 1
    assert await shares(team) == []
