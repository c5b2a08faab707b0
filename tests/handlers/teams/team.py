"""A team where Relais is installed, for the Teams tests that type commands and click cards: the running
app (`tests.handlers.teams.driver`), its fake Bot Connector, and activities from Ann (the admin who
installed Relais) and Bob (a member), in their 1:1 chats or in the team's General channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.demo.fake_teams import REPLY, SEND, FakeTeams
from models import Member, Post
from tests.fakes.bot_framework import FakeBotFramework, entra_session
from tests.handlers.teams.driver import APP_ID, OUTBOUND_TOKEN, TENANT, TeamsDriver, activity, teams_app

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
    # Each person's browser signed in to Relais (its session cookie), by Entra object id.
    browser_sessions: dict[str, str] = field(default_factory=dict)

    async def signed_in(self, person: dict[str, str]) -> str:
        """`person`'s browser signs in to Relais with Microsoft (once), through the real routes and the fake
        Entra (signed in to Microsoft in that browser): the session cookie it then sends."""
        oid = person["aadObjectId"]
        if oid not in self.browser_sessions:
            to_microsoft = await self.teams.client.get("/login", params={"next": "/me"})
            assert to_microsoft.status_code == 302, to_microsoft.text
            state = to_microsoft.headers["Set-Cookie"].split(";", 1)[0]
            async with httpx.AsyncClient() as browser:
                consent = await browser.get(
                    to_microsoft.headers["Location"],
                    headers={"Cookie": entra_session(oid, TENANT, person.get("name", ""))},
                )
            assert consent.status_code == 302, consent.text
            back = urlsplit(consent.headers["Location"])
            landed = await self.teams.client.get(f"{back.path}?{back.query}", headers={"Cookie": state})
            assert landed.status_code == 303, landed.text
            [session] = [
                value for value in landed.headers.get_list("Set-Cookie") if "relais_session=" in value
            ]
            self.browser_sessions[oid] = session.split(";", 1)[0]
        return self.browser_sessions[oid]

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
        """Post `body`; what Relais answered the sender (once what it enqueued was sent): replies in their
        1:1 chat, or messages sent to that chat when they wrote in the channel. Only what the connector
        accepted: a reply it answered 429 (many commands in a row) and Relais sent again counts once."""
        before = len(self.connector.calls)
        assert (await self.teams.post(body)).status_code == 202
        await self.teams.settle()
        chat = ANN_CHAT if body["from"]["id"] == ANN["id"] else BOB_CHAT
        return [
            call.body
            for call in self.connector.calls[before:]
            if call.status < 300
            and (
                (call.operation == REPLY and call.activity_id == body["id"])
                or (call.operation == SEND and call.conversation_id == chat)
            )
        ]

    def invoke(self, person: dict[str, str], button: dict[str, Any], *, card_id: str) -> dict[str, Any]:
        """A click on an `Action.Execute` button of the card Relais posted in the General channel (its
        message id `card_id`), as Teams sends it: an `adaptiveCard/action` invoke."""
        body = self.in_channel(person, "")
        body.update(
            type="invoke",
            name="adaptiveCard/action",
            text=None,
            replyToId=card_id,
            conversation={**body["conversation"], "id": f"{CHANNEL};messageid={card_id}"},
            entities=[{"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
            value={
                "action": {"type": "Action.Execute", "verb": button["verb"], "data": button["data"]},
                "trigger": "manual",
            },
        )
        return body

    def invoke_in_chat(
        self, person: dict[str, str], button: dict[str, Any], *, card_id: str
    ) -> dict[str, Any]:
        """A click on a button of a card Relais sent to `person`'s 1:1 chat."""
        body = self.personal(person, "")
        body.update(
            type="invoke",
            name="adaptiveCard/action",
            replyToId=card_id,
            value={
                "action": {"type": "Action.Execute", "verb": button["verb"], "data": button["data"]},
                "trigger": "manual",
            },
        )
        return body

    def submit(self, person: dict[str, str], button: dict[str, Any], *, card_id: str) -> dict[str, Any]:
        """The same click from a client without Universal Actions: the button's `Action.Submit` fallback,
        a message carrying its data as `value`."""
        body = self.invoke(person, button, card_id=card_id)
        del body["name"]
        body.update(type="message", value=dict(button["fallback"]["data"]))
        return body

    async def click(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post an invoke; its answer (the invoke response's body), once what it enqueued was sent."""
        response = await self.teams.post(body)
        assert response.status_code == 200, response.text
        await self.teams.settle()
        answer: dict[str, Any] = response.json()
        return answer

    async def published(self) -> tuple[str, dict[str, Any]]:
        """Ann queues the article from the channel: the post card's message id and the card."""
        await self.say(self.in_channel(ANN, f"queue {ARTICLE} Proud of this one"))
        _welcome, *posted = self.connector.activities(CHANNEL)
        (post,) = [body for body in posted if "replyToId" not in body]
        return str(post["id"]), post["attachments"][0]["content"]

    async def member(self, aad: str) -> Member:
        async with self.sessions() as session:
            return (await session.scalars(select(Member).where(Member.external_id == aad))).one()

    async def posts(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Post)) or 0)


@asynccontextmanager
async def installed_team(
    settings: Settings,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    *,
    people: Sequence[str] = (),
) -> AsyncIterator[Team]:
    """Relais installed by Ann in the team (the General channel its default), Ann's and Bob's 1:1
    chats with Relais; `people` (names) are in the team too, known to Relais from its roster only (Teams
    id `29:<name>`, Entra object id `aad-<name>`, no chat with Relais yet). The connector's recordings
    start after the install."""
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], token=OUTBOUND_TOKEN) as connector:
        connector.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
        connector.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
        for name in people:
            connector.add_member(f"29:{name}", name=name.title())
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
                    "team": {"id": CHANNEL, "name": "Acme"},
                    "channel": {"id": CHANNEL},
                },
            },
        )
        async with teams_app(
            settings,
            engine,
            bot_framework,
            connector,
            fetch_allowed_networks=(ip_network("127.0.0.2/32"),),
        ) as teams:
            assert (await teams.post(install)).status_code == 202
            await teams.settle()  # the welcome, sent through the outbox
            connector.reset()
            yield Team(teams, connector, sessions)
        assert connector.violations == []


def actions(node: Any) -> list[dict[str, Any]]:
    return [e for e in elements(node) if str(e.get("type", "")).startswith("Action.")]


def elements(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [e for value in node.values() for e in elements(value)]
    if isinstance(node, list):
        return [e for item in node for e in elements(item)]
    return []


def button(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The card's `Action.Execute` button with this verb."""
    (found,) = [a for a in actions(card) if a["type"] == "Action.Execute" and a["verb"] == verb]
    return found


def filled(card: dict[str, Any], verb: str, **changes: str) -> dict[str, Any]:
    """The card's submit button as a client sends it: its data with every input's value (as the card
    shows it, or as `changes` says the person changed it)."""
    found = button(card, verb)
    values = {e["id"]: e.get("value", "") for e in elements(card) if str(e.get("type")).startswith("Input.")}
    return {**found, "data": {**found["data"], **values, **changes}}
