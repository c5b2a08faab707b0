"""Commands typed to Relais in Teams, through `/api/messages`: in a 1:1 chat, or after @mentioning Relais
in a channel, the same grammar, permissions and refusals as Slack, answered with a card in reply, in the
member's language; what a command enqueues (a post for the channel) is sent right after; an activity
delivered again has no second effect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import REPLY, SEND, FakeTeams
from bot.services.conversations import reference_for
from models import Member, Post, Workspace
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import (
    APP_ID,
    OUTBOUND_TOKEN,
    TENANT,
    SettingsFactory,
    TeamsDriver,
    activity,
    teams_app,
)

Sessions = async_sessionmaker[AsyncSession]
CHANNEL = "19:general@thread.tacv2"
NEWS = "19:news@thread.tacv2"
BOT = {"id": f"28:{APP_ID}", "name": "Relais"}
ANN = {"id": "29:ann", "name": "Ann Lee", "aadObjectId": "aad-ann"}
BOB = {"id": "29:bob", "name": "Bob Stone", "aadObjectId": "aad-bob"}
ANN_CHAT = "a:ann-personal"
BOB_CHAT = "a:bob-personal"
ARTICLE = "http://127.0.0.2:9/article"  # nothing listens there: the page cannot be read
MENTION = {"type": "mention", "mentioned": BOT, "text": "<at>Relais</at>"}


def card_text(sent: dict[str, Any]) -> str:
    """Every TextBlock and fact of the Adaptive Card a message carries."""
    (attachment,) = sent["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return "\n".join(_texts(attachment["content"]))


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "TextBlock" else []
        if node.get("type") == "FactSet":
            found += [f"{fact['title']} {fact['value']}" for fact in node["facts"]]
        return found + [text for value in node.values() for text in _texts(value)]
    if isinstance(node, list):
        return [text for item in node for text in _texts(item)]
    return []


@dataclass
class Team:
    """Relais installed by Ann (an admin) in a team whose General channel is the default; Bob is a
    member. Each writes from their 1:1 chat with Relais unless told otherwise."""

    teams: TeamsDriver
    connector: FakeTeams
    sessions: Sessions

    def personal(self, person: dict[str, str], text: str, **fields: Any) -> dict[str, Any]:
        chat = ANN_CHAT if person is ANN else BOB_CHAT
        return activity(
            self.connector.service_url,
            fields.pop("type", "message"),
            text=text or None,
            **{
                "from": person,
                "conversation": {"id": chat, "conversationType": "personal", "tenantId": TENANT},
                "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
                **fields,
            },
        )

    def in_channel(self, person: dict[str, str], text: str, **fields: Any) -> dict[str, Any]:
        """A message in the General channel @mentioning Relais (a new post: its own thread)."""
        return activity(
            self.connector.service_url,
            text=f"<at>Relais</at> {text}",
            **{
                "from": person,
                "conversation": {
                    "id": f"{CHANNEL};messageid=1764200009999",
                    "conversationType": "channel",
                    "isGroup": True,
                    "tenantId": TENANT,
                },
                "channelData": {
                    "tenant": {"id": TENANT},
                    "team": {"id": CHANNEL, "name": "Acme"},
                    "channel": {"id": CHANNEL},
                },
                "entities": [MENTION, {"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
                **fields,
            },
        )

    async def say(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Post `body`; what Relais replied to it (and what that enqueued, sent)."""
        before = len(self.connector.calls)
        assert (await self.teams.post(body)).status_code == 202
        await self.teams.settle()
        return [
            call.body
            for call in self.connector.calls[before:]
            if call.operation == REPLY and call.activity_id == body["id"]
        ]

    async def member(self, aad: str) -> Member:
        async with self.sessions() as session:
            return (await session.scalars(select(Member).where(Member.external_id == aad))).one()

    async def posts(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Post)) or 0)


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
) -> AsyncIterator[Team]:
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], token=OUTBOUND_TOKEN) as connector:
        connector.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
        connector.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
        connector.add_conversation(CHANNEL)
        connector.add_conversation(ANN_CHAT, conversation_type="personal", members=["29:ann"])
        connector.add_conversation(BOB_CHAT, conversation_type="personal", members=["29:bob"])
        install = activity(
            connector.service_url,
            "installationUpdate",
            action="add",
            text=None,
            **{
                "from": {"id": "29:ann", "aadObjectId": "aad-ann"},
                "conversation": {
                    "id": CHANNEL,
                    "conversationType": "channel",
                    "isGroup": True,
                    "tenantId": TENANT,
                },
                "channelData": {
                    "tenant": {"id": TENANT},
                    "team": {"id": CHANNEL},
                    "channel": {"id": CHANNEL},
                },
            },
        )
        async with teams_app(
            teams_settings(),
            engine,
            bot_framework,
            connector,
            fetch_allowed_networks=(ip_network("127.0.0.2/32"),),
        ) as teams:
            assert (await teams.post(install)).status_code == 202
            connector.reset()
            yield Team(teams, connector, sessions)
        assert connector.violations == []


async def test_help_in_a_personal_chat_is_answered_with_a_card_in_reply(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "help"))
    assert "Relais** helps you share company news" in card_text(reply)
    assert "text" not in reply  # a card alone: a client would show text and card as two messages
    assert reply["summary"].startswith("Relais helps you share")
    (stored,) = team.connector.activities(BOB_CHAT)
    assert stored["replyToId"] is not None


async def test_an_admin_queues_a_link_from_the_channel_and_the_post_reaches_it(team: Team) -> None:
    (reply,) = await team.say(team.in_channel(ANN, f"queue {ARTICLE} Proud of this one"))
    assert "is being published in" in card_text(reply)
    (post_card,) = [body for body in team.connector.activities(CHANNEL) if "replyToId" not in body]
    shown = card_text(post_card)
    assert "127.0.0.2" in shown
    assert "Proud of this one" in shown
    verbs = [a["verb"] for a in _actions(post_card) if a["type"] == "Action.Execute"]
    assert verbs == ["share_linkedin", "share_x", "edit_share", "not_for_me"]
    assert len(team.connector.calls_to(SEND)) == 1  # the post; the answer was a reply
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
    assert len(team.connector.calls_to(SEND)) == 1


async def test_queue_alone_sends_the_form_and_its_submission_queues_the_post(team: Team) -> None:
    (form,) = await team.say(team.personal(ANN, "queue"))
    card = form["attachments"][0]["content"]
    ids = {element.get("id") for element in _elements(card)}
    assert {"url", "caption_1", "caption_2", "caption_3", "networks", "channels", "expires_on"} <= ids
    (submit,) = [a for a in _actions(card) if a["type"] == "Action.Execute"]
    assert submit["fallback"]["type"] == "Action.Submit"
    invoke = team.personal(
        ANN,
        "",
        type="invoke",
        name="adaptiveCard/action",
        value={
            "action": {
                "type": "Action.Execute",
                "verb": submit["verb"],
                "data": {**submit["data"], "url": "not a link", "networks": "linkedin", "channels": CHANNEL},
            },
            "trigger": "manual",
        },
    )
    response = await team.teams.post(invoke)
    assert response.status_code == 200
    refused = response.json()
    assert refused["type"] == "application/vnd.microsoft.card.adaptive"
    assert await team.posts() == 0
    invoke["id"] += "-again"
    invoke["value"]["action"]["data"]["url"] = ARTICLE
    response = await team.teams.post(invoke)
    await team.teams.settle()
    assert response.json()["type"] == "application/vnd.microsoft.activity.message"
    assert "is being published in" in response.json()["value"]
    assert await team.posts() == 1
    assert len(team.connector.calls_to(SEND)) == 1  # the post, in the channel


def _actions(node: Any) -> list[dict[str, Any]]:
    return [e for e in _elements(node) if str(e.get("type", "")).startswith("Action.")]


def _elements(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [e for value in node.values() for e in _elements(value)]
    if isinstance(node, list):
        return [e for item in node for e in _elements(item)]
    return []
