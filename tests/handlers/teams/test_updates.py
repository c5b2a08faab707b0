"""Cards that change, in Teams, through `/api/messages` and the fake Bot Connector's records: a cancelled
post's card in the channel is updated in place (`PUT …/activities/{id}` on the message Relais sent), for
everyone, with no buttons left, and so is a decided suggestion's review in the admin's chat. A share is
marked for the person who shared alone, by the card that answers their click (Teams shows it to that
person's client only), never by editing the channel's card, which everyone sees. (A big round's progress,
edited in place in the admin's chat, is in `test_weekly.py`.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_teams import SEND, UPDATE
from bot.services.posts import POST_UPDATE_KIND
from handlers.teams.platform import TeamsPlatform
from models import (
    OutboxMessage,
    OutboxState,
    Post,
    PostState,
    Share,
    ShareStatus,
    Suggestion,
    SuggestionState,
)
from scheduler import jobs
from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import START, FixedTokens, SettingsFactory
from tests.handlers.teams.team import (
    ANN,
    ANN_CHAT,
    ARTICLE,
    BOB,
    CHANNEL,
    Team,
    actions,
    button,
    card_text,
    installed_team,
)
from tests.handlers.teams.test_cards import connect_linkedin

Sessions = async_sessionmaker[AsyncSession]
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


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


async def edits_of(team: Team) -> list[OutboxMessage]:
    """The outbox's edits of a post's channel messages."""
    async with team.sessions() as session:
        edits = select(OutboxMessage).where(OutboxMessage.kind == POST_UPDATE_KIND)
        return list((await session.scalars(edits)).all())


async def post_of(team: Team) -> Post:
    async with team.sessions() as session:
        return (await session.scalars(select(Post))).one()


async def test_a_cancelled_post_is_withdrawn_in_place_in_the_channel(team: Team) -> None:
    card_id, card = await team.published()
    post = await post_of(team)
    before = len(team.connector.activities(CHANNEL))
    (refused,) = await team.say(team.personal(BOB, f"cancel {post.id}"))  # Bob is no admin
    assert "Only Relais admins" in card_text(refused)
    assert team.connector.calls_to(UPDATE) == []

    (reply,) = await team.say(team.personal(ANN, f"cancel {post.id}"))
    assert f"Post #{post.id} is cancelled" in card_text(reply)
    (update,) = team.connector.calls_to(UPDATE)
    assert (update.conversation_id, update.activity_id) == (CHANNEL, card_id)
    # The same message, for everyone: withdrawn, its caption kept, no button left; nothing new posted.
    shown = team.connector.activities(CHANNEL)
    assert len(shown) == before
    withdrawn = shown[-1]
    assert withdrawn["id"] == card_id
    assert "🚫 This post was withdrawn." in card_text(withdrawn)
    assert "Proud of this one" in card_text(withdrawn)
    assert actions(withdrawn) == []
    assert actions(card) != []
    assert (await post_of(team)).state is PostState.CANCELLED

    # A click on the card as a client still showed it, and the same command again: nothing changes.
    late = await team.click(team.invoke(BOB, button(card, "share_x"), card_id=card_id))
    assert late == {"statusCode": 200, "type": MESSAGE, "value": "This post is no longer available."}
    (again,) = await team.say(team.personal(ANN, f"cancel {post.id}"))
    assert "already cancelled" in card_text(again)
    assert len(team.connector.calls_to(UPDATE)) == 1
    async with team.sessions() as session:
        assert (await session.scalars(select(Share))).all() == []


async def test_a_withdrawal_whose_card_was_deleted_in_teams_is_not_retried(team: Team) -> None:
    card_id, _ = await team.published()
    post = await post_of(team)
    conversation = team.connector.conversations[CHANNEL]
    conversation.activities = [a for a in conversation.activities if a["id"] != card_id]  # deleted in Teams
    (reply,) = await team.say(team.personal(ANN, f"cancel {post.id}"))
    assert f"Post #{post.id} is cancelled" in card_text(reply)
    (update,) = team.connector.calls_to(UPDATE)
    assert update.status == 404
    (row,) = await edits_of(team)
    assert row.state is OutboxState.FAILED  # for good: the message to edit is gone
    assert (await post_of(team)).state is PostState.CANCELLED


async def test_a_withdrawal_teams_throttles_is_sent_again_after_its_retry_after(
    team: Team, settings: Settings
) -> None:
    card_id, _ = await team.published()
    post = await post_of(team)
    team.connector.fail_next(UPDATE, status=429, retry_after=2)
    await team.say(team.personal(ANN, f"cancel {post.id}"))
    (throttled,) = team.connector.calls_to(UPDATE)
    assert throttled.status == 429
    (row,) = await edits_of(team)
    assert row.state is OutboxState.PENDING
    assert row.next_attempt_at >= START + timedelta(seconds=2)  # Teams' Retry-After, and a little jitter
    clock = FrozenClock(START + timedelta(seconds=1))
    notifier = TeamsPlatform(tokens=FixedTokens()).notifier(settings, team.sessions, clock)
    ctx = jobs.Context(team.sessions, {"teams": notifier}, clock.now)
    assert await jobs.run_job(ctx, "outbox") == "0 API shares, 0 messages"  # not yet
    clock.set(START + timedelta(seconds=4))
    assert await jobs.run_job(ctx, "outbox") == "0 API shares, 1 messages"
    (_, update) = team.connector.calls_to(UPDATE)
    assert (update.status, update.activity_id) == (200, card_id)
    (withdrawn,) = [a for a in team.connector.activities(CHANNEL) if a["id"] == card_id]
    assert actions(withdrawn) == []


async def test_a_share_is_marked_for_the_person_who_shared_alone(team: Team) -> None:
    card_id, card = await team.published()
    await connect_linkedin(team)
    sends = len(team.connector.calls_to(SEND))
    posted = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    # Bob's answer is a card in place of the post, on his client alone: posted, with View and Undo.
    assert posted["type"] == CARD
    answer = {"attachments": [{"contentType": CARD, "content": posted["value"]}]}
    assert "Posted on LinkedIn. Thank you!" in card_text(answer)
    assert [a["verb"] for a in actions(posted["value"]) if a["type"] == "Action.Execute"] == ["share_undo"]
    # The channel's card, which everyone sees, is left as it was: nothing updated, nothing posted.
    assert team.connector.calls_to(UPDATE) == []
    assert len(team.connector.calls_to(SEND)) == sends
    (shown,) = [a for a in team.connector.activities(CHANNEL) if a["id"] == card_id]
    assert shown["attachments"][0]["content"] == card
    # The card as another client of Bob's still shows it: a click there is told it is done already.
    again = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    assert "You already shared this on LinkedIn." in str(again["value"])
    async with team.sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
    assert share.status is ShareStatus.POSTED


async def test_a_decided_suggestion_is_closed_in_place_in_the_admins_chat(team: Team) -> None:
    await team.say(team.personal(BOB, f"suggest {ARTICLE} Worth a share"))
    review = team.connector.activities(ANN_CHAT)[-1]
    content = review["attachments"][0]["content"]
    assert "<at>Bob Stone</at> suggests sharing" in card_text(review)
    rejected = await team.click(
        team.invoke_in_chat(ANN, button(content, "suggestion_reject"), card_id=review["id"])
    )
    assert rejected["statusCode"] == 200
    (update,) = team.connector.calls_to(UPDATE)
    assert (update.conversation_id, update.activity_id) == (ANN_CHAT, review["id"])
    (closed,) = [a for a in team.connector.activities(ANN_CHAT) if a["id"] == review["id"]]
    assert "❌ Rejected by <at>Ann Lee</at>." in card_text(closed)
    assert actions(closed) == []
    # A click on the review as another client still showed it: decided already, nothing edited again.
    await team.click(team.invoke_in_chat(ANN, button(content, "suggestion_reject"), card_id=review["id"]))
    assert len(team.connector.calls_to(UPDATE)) == 1
    async with team.sessions() as session:
        (suggestion,) = (await session.scalars(select(Suggestion))).all()
    assert suggestion.state is SuggestionState.REJECTED
