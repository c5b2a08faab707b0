"""The weekly rounds for a Teams workspace, through the clock's real jobs (`relais jobs run nudges|
leaderboard --at …` runs the same): Relais installed through `/api/messages` in a team of many people,
most of them known from the team's roster only; both kinds of share (through the API, through the
personal share link opened) and Not for me made by clicks on the channel's card. Each quiet person gets
one reminder card in their own chat (created once), the channel the leaderboard, each participant their
private rank; nobody who did nothing is named, a big round's progress is edited in place in the admin's
chat, and running a round again sends nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_teams import CREATE, SEND, UPDATE, FakeConversation
from handlers.teams.platform import TeamsPlatform
from models import Dismissal, Share, ShareStatus
from scheduler import jobs
from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import FixedTokens, SettingsFactory
from tests.handlers.teams.team import (
    ANN_CHAT,
    BOB,
    BOB_CHAT,
    CHANNEL,
    Team,
    actions,
    button,
    card_text,
    installed_team,
)
from tests.handlers.teams.test_cards import browse, connect_linkedin

Sessions = async_sessionmaker[AsyncSession]
# Known from the team's roster only: with Ann, 26 quiet people, a big round (`progress.PROGRESS_MIN`).
ROSTER = tuple(f"person{i:02d}" for i in range(27))
# Friday 27 November 2026, 16:00 UTC: the leaderboard's moment (Friday 16:00) has come in Paris and UTC.
BOARD_TIME = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
# Tuesday 1 December 2026, 10:00 UTC: the reminders' moment (Tuesday 10:00) has come in Paris and UTC.
NUDGE_TIME = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


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
    async with installed_team(settings, engine, sessions, bot_framework, people=ROSTER) as installed:
        yield installed


def context(team: Team, settings: Settings, clock: FrozenClock) -> jobs.Context:
    """The clock's context for this Teams-only deployment, its time `clock` (`relais jobs run --at`)."""
    notifier = TeamsPlatform(tokens=FixedTokens()).notifier(settings, team.sessions, clock)
    return jobs.Context(team.sessions, {"teams": notifier}, clock.now)


def delivered(team: Team, operation: str) -> Counter[str]:
    """How many times Relais did `operation` in each conversation."""
    calls = team.connector.calls_to(operation)
    return Counter(str(call.conversation_id) for call in calls if call.status < 300)


def person(name: str) -> dict[str, str]:
    """Someone of the team's roster, as Teams names them in their activities."""
    return {"id": f"29:{name}", "name": name.title(), "aadObjectId": f"aad-{name}"}


def chat_of(team: Team, name: str) -> FakeConversation:
    chat = team.connector.personal_conversation(f"29:{name}")
    assert chat is not None, name
    return chat


async def test_the_weekly_rounds_reach_every_teams_member_once_with_private_ranks(
    team: Team, settings: Settings
) -> None:
    card_id, card = await team.published()
    await connect_linkedin(team)
    click = team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id)
    # Bob's Teams speaks French now: his answers, and his rank, are in French.
    click.update(locale="fr-FR", entities=[{"type": "clientInfo", "locale": "fr-FR"}])
    posted = await team.click(click)
    assert "Publié sur LinkedIn. Merci !" in str(posted["value"])
    # person01 ("Dana" below), known from the roster only, shares on X through her personal link (/s/),
    # which she opens.
    linked = await team.click(team.invoke(person("person01"), button(card, "share_x"), card_id=card_id))
    (share_link,) = [a["url"] for a in actions(linked["value"]) if a["type"] == "Action.OpenUrl"]
    assert (await browse(team, share_link)).status_code == 303
    noted = await team.click(team.invoke(person("person00"), button(card, "not_for_me"), card_id=card_id))
    assert noted["type"] == "application/vnd.microsoft.activity.message"
    async with team.sessions() as session:
        shares = (await session.scalars(select(Share).order_by(Share.id))).all()
        assert [share.status for share in shares] == [ShareStatus.POSTED, ShareStatus.INTENT]
        assert len((await session.scalars(select(Dismissal))).all()) == 1
    team.connector.reset()

    clock = FrozenClock(BOARD_TIME)
    ctx = context(team, settings, clock)
    assert await jobs.run_job(ctx, "leaderboard") == "3 leaderboard messages"
    (board,) = team.connector.activities(CHANNEL)[-1:]
    shown = card_text(board)
    assert shown.index("Bob Stone") < shown.index("Person01")
    for nobody in ("Ann Lee", "Person00", "Person02"):
        assert nobody not in shown
    # Each participant's rank, in their own chat: Dana's created for it (once).
    (bob_rank,) = team.connector.activities(BOB_CHAT)[-1:]
    assert "Cette semaine vous êtes **n° 1** sur 2 avec **10 points** (1 partages" in card_text(bob_rank)
    dana = chat_of(team, "person01")
    (dana_rank,) = dana.activities
    assert "This week you are **#2** of 2 with **3 points** (1 shares, 0 clicks)" in card_text(dana_rank)
    assert [call.body["members"] for call in team.connector.calls_to(CREATE)] == [[{"id": "29:person01"}]]
    ranked = Counter({CHANNEL: 1, BOB_CHAT: 1, dana.id: 1})
    assert delivered(team, SEND) == ranked
    assert await jobs.run_job(ctx, "leaderboard") == "0 leaderboard messages"
    assert delivered(team, SEND) == ranked
    team.connector.reset()

    clock.set(NUDGE_TIME)
    assert await jobs.run_job(ctx, "nudges") == "26 reminders"
    # Not Bob nor Dana, who shared; nor person00, who said the only post was not for them.
    quiet = [f"person{i:02d}" for i in range(2, 27)]
    chats = {name: chat_of(team, name) for name in quiet}
    # Each one's 1:1 chat with Relais was created once (Ann's too: Relais knew her from the channel
    # only), and holds one reminder.
    created = [member["id"] for call in team.connector.calls_to(CREATE) for member in call.body["members"]]
    assert sorted(created) == ["29:ann", *(f"29:{name}" for name in quiet)]
    assert team.connector.personal_conversation("29:person00") is None
    assert dana.activities == [dana_rank]
    expected = Counter({ANN_CHAT: 2})  # Ann: her reminder, and the big round's progress
    expected.update({chat.id: 1 for chat in chats.values()})
    assert delivered(team, SEND) == expected
    # Ann (in Paris) is in a round of her own; the 25 others (UTC, the workspace's zone), a big one.
    (ann_nudge,) = [a for a in team.connector.activities(ANN_CHAT) if "reminders:" not in card_text(a)][-1:]
    (progress_note,) = [a for a in team.connector.activities(ANN_CHAT) if "reminders:" in card_text(a)]
    (nudge,) = chats["person07"].activities
    assert "recent post(s) you might like to share" in card_text(nudge)
    assert "Proud of this one" in card_text(nudge)
    verbs = [a["verb"] for a in actions(nudge) if a["type"] == "Action.Execute"]
    assert verbs[:2] == ["share_linkedin", "share_x"]
    assert "recent post(s) you might like to share" in card_text(ann_nudge)
    # The progress message was edited in place (the same message in Ann's chat), to its final count.
    assert set(delivered(team, UPDATE)) == {ANN_CHAT}
    assert {call.activity_id for call in team.connector.calls_to(UPDATE)} == {progress_note["id"]}
    assert "This week's reminders: done, 25 / 25." in card_text(progress_note)

    # The same round again, or later that day: nothing is sent twice.
    sent = len(team.connector.calls)
    assert await jobs.run_job(ctx, "nudges") == "0 reminders"
    clock.set(NUDGE_TIME.replace(hour=14))
    assert await jobs.run_job(ctx, "nudges") == "0 reminders"
    assert team.connector.calls[sent:] == []
