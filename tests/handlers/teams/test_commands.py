"""Commands typed to Relais in Teams, through `/api/messages`: in a 1:1 chat, or after @mentioning Relais
in a channel, the same grammar, permissions and refusals as Slack, answered with a card in reply, in the
member's language; what a command enqueues (a post for the channel) is sent right after; an activity
delivered again has no second effect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import SEND
from bot.services.conversations import reference_for
from models import Workspace
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import TENANT, SettingsFactory
from tests.handlers.teams.team import (
    ANN,
    ANN_CHAT,
    ARTICLE,
    BOB,
    BOB_CHAT,
    CHANNEL,
    MENTION,
    NEWS,
    Team,
    actions,
    card_text,
    elements,
    filled,
    installed_team,
)

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


async def test_help_in_a_personal_chat_is_answered_with_a_card_in_reply(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "help"))
    assert "Relais** helps you share company news" in card_text(reply)
    assert "text" not in reply  # a card alone: a client would show text and card as two messages
    assert reply["summary"].startswith("Relais helps you share")
    (stored,) = team.connector.activities(BOB_CHAT)
    assert stored["replyToId"] is not None


async def test_the_help_names_commands_as_they_are_typed_in_teams(team: Team) -> None:
    """In Teams a command is typed to Relais in one's chat with it (or after @Relais in a channel): the
    help, in English and in French, and a refusal name commands without Slack's `/relais`."""
    for lang in ("en", "fr"):
        body = team.personal(ANN, "help")
        body.update(locale=f"{lang}-FR", entities=[{"type": "clientInfo", "locale": f"{lang}-FR"}])
        (reply,) = await team.say(body)
        shown = card_text(reply)
        assert "/relais" not in shown + reply["summary"]
        assert "me — " in shown  # each command as typed: `me`, shown without the code's backticks
        assert "queue <url> [caption]" in shown or "queue <url> [légende]" in shown
    (refused,) = await team.say(team.personal(BOB, f"queue {ARTICLE}"))
    assert "Only Relais admins can use queue. Ask a workspace admin if you need it." in card_text(refused)


async def test_an_admin_queues_a_link_from_the_channel_and_the_post_reaches_it(team: Team) -> None:
    (reply,) = await team.say(team.in_channel(ANN, f"queue {ARTICLE} Proud of this one"))
    assert "is being published in" in card_text(reply)
    # The answer is Ann's alone, in her chat; the channel gets the post (after the install's welcome).
    assert team.connector.activities(ANN_CHAT)[-1]["attachments"] == reply["attachments"]
    (welcome, post_card) = team.connector.activities(CHANNEL)
    assert "Relais is installed" in card_text(welcome)
    shown = card_text(post_card)
    assert "127.0.0.2" in shown
    assert "Proud of this one" in shown
    verbs = [a["verb"] for a in actions(post_card) if a["type"] == "Action.Execute"]
    assert verbs == ["share_linkedin", "share_x", "edit_share", "not_for_me"]
    assert [call.conversation_id for call in team.connector.calls_to(SEND)] == [ANN_CHAT, CHANNEL]
    assert await team.posts() == 1
    async with team.sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        channel = await reference_for(session, workspace_id=workspace.id, key=CHANNEL)
    assert channel is not None
    assert channel["conversation"]["id"] == CHANNEL


async def test_a_member_is_refused_queue_and_nothing_is_queued(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, f"queue {ARTICLE}"))
    assert "Only Relais admins can use" in card_text(reply)
    assert await team.posts() == 0
    assert team.connector.calls_to(SEND) == []


async def test_me_shows_the_members_own_figures(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "me"))
    assert "Your sharing" in card_text(reply)
    assert "Share a post to appear in the ranking." in card_text(reply)


async def test_lang_fr_answers_in_french_from_then_on(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "lang fr"))
    assert "Je vous parlerai en français." in card_text(reply)
    assert (await team.member("aad-bob")).language == "fr"
    (reply,) = await team.say(team.personal(BOB, "aide"))
    assert "Relais** vous aide à partager" in card_text(reply)


async def test_the_activity_locale_is_the_members_language(team: Team) -> None:
    (reply,) = await team.say(team.personal(ANN, "frobnicate", locale="fr-FR"))
    assert "Je ne connais pas frobnicate" in card_text(reply)
    assert (await team.member("aad-ann")).locale == "fr-FR"


async def test_an_unknown_command_gets_the_help_led_by_why(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "frobnicate now"))
    shown = card_text(reply)
    assert "I don't know frobnicate" in shown
    assert "Relais** helps you share company news" in shown


async def test_a_channel_message_without_a_mention_of_relais_is_not_for_it(team: Team) -> None:
    body = team.in_channel(ANN, "help", entities=[])
    body["text"] = "help"
    assert await team.say(body) == []


async def test_channel_alone_in_a_channel_sets_that_channel_and_a_mentioned_one_too(team: Team) -> None:
    team.connector.add_conversation(NEWS)
    (reply,) = await team.say(team.in_channel(ANN, "channel"))
    assert "New posts will go to" in card_text(reply)
    news = {"type": "mention", "mentioned": {"id": NEWS, "name": "News"}, "text": "<at>News</at>"}
    body = team.in_channel(ANN, "channel <at>News</at>")
    body["entities"] = [MENTION, news]
    (reply,) = await team.say(body)
    assert "New posts will go to #News by default." in card_text(reply)
    async with team.sessions() as session:
        assert (await session.scalars(select(Workspace))).one().default_channel == NEWS
    (reply,) = await team.say(team.in_channel(ANN, "channel #Elsewhere"))
    assert "Elsewhere" in card_text(reply)
    async with team.sessions() as session:
        assert (await session.scalars(select(Workspace))).one().default_channel == NEWS


async def test_a_redelivered_command_has_no_second_effect(team: Team) -> None:
    body = team.in_channel(ANN, f"queue {ARTICLE}")
    assert len(await team.say(body)) == 1
    assert await team.say(body) == []  # the Bot Framework sent it again: the same id
    assert await team.posts() == 1
    assert [call.conversation_id for call in team.connector.calls_to(SEND)] == [ANN_CHAT, CHANNEL]


async def test_queue_alone_sends_the_form_and_its_submission_queues_the_post(team: Team) -> None:
    (form,) = await team.say(team.personal(ANN, "queue"))
    card = form["attachments"][0]["content"]
    form_id = team.connector.activities(ANN_CHAT)[-1]["id"]
    ids = {element.get("id") for element in elements(card)}
    assert {"url", "caption_1", "caption_2", "caption_3", "networks", "channels", "expires_on"} <= ids
    (channels,) = [e for e in elements(card) if e.get("id") == "channels"]
    assert [c["title"] for c in channels["choices"]] == ["Acme"]  # the team's General channel, by name
    (submit,) = [a for a in actions(card) if a["type"] == "Action.Execute"]
    assert submit["fallback"]["type"] == "Action.Submit"
    wrong = filled(card, "queue_submit", url="not a link", publish_date="2026-11-25")
    refused = await team.click(team.invoke_in_chat(ANN, wrong, card_id=form_id))
    assert refused["type"] == "application/vnd.microsoft.card.adaptive"
    shown = [e["text"] for e in elements(refused["value"]) if e.get("color") == "Attention"]
    assert len(shown) == 2  # under the link, and under the half-filled publication time
    assert shown[0].startswith("That doesn't look like a link I can share")
    assert shown[1] == "This is not a date I can read; pick one with the calendar."
    inputs = {e["id"]: e for e in elements(refused["value"]) if "id" in e}
    assert inputs["url"]["value"] == "not a link"  # what was typed stays
    assert await team.posts() == 0
    right = filled(card, "queue_submit", url=ARTICLE, caption_1="Read this")
    queued = await team.click(team.invoke_in_chat(ANN, right, card_id=form_id))
    assert queued["type"] == "application/vnd.microsoft.activity.message"
    assert "is being published in #Acme" in queued["value"]
    assert await team.posts() == 1
    assert len(team.connector.calls_to(SEND)) == 1  # the post, in the channel


async def test_channels_are_named_as_teams_last_named_them(team: Team) -> None:
    # Teams names the General channel by its team in some activities only; one without names keeps it.
    unnamed = {"tenant": {"id": TENANT}, "team": {"id": CHANNEL}, "channel": {"id": CHANNEL}}
    assert len(await team.say(team.in_channel(ANN, "help", channelData=unnamed))) == 1
    (form,) = await team.say(team.personal(ANN, "queue"))
    (channels,) = [e for e in elements(form["attachments"][0]["content"]) if e.get("id") == "channels"]
    assert [choice["title"] for choice in channels["choices"]] == ["Acme"]
    (queued,) = await team.say(team.personal(ANN, f"queue {ARTICLE}"))
    assert "#Acme" in card_text(queued)
    assert CHANNEL not in card_text(queued)


WORDS = st.sampled_from(
    ["queue", "channel", "lang", "fr", "me", "help", "#", "#News", "<at>", "</at>", "<at>Relais</at>", "\n"]
)
TYPED = st.lists(WORDS | st.text(max_size=12), max_size=6).map(" ".join)


async def test_whatever_a_member_types_gets_one_answer_and_queues_nothing(team: Team) -> None:
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
        derandomize=True,
    )
    @given(typed=TYPED, in_channel=st.booleans())
    def examples(typed: str, in_channel: bool) -> None:
        body = team.in_channel(BOB, typed) if in_channel else team.personal(BOB, typed)
        replies = asyncio.run_coroutine_threadsafe(team.say(body), loop).result()
        assert len(replies) == 1, typed
        assert replies[0]["attachments"][0]["content"]["body"], typed

    await asyncio.to_thread(examples)
    assert await team.posts() == 0
    assert team.connector.violations == []
