"""Two Teams tenants served by one multi-tenant bot (Acme, where Ann installed Relais, and Globex, where Gina
did), each with a post in its channel; then a click from one naming the other's post, in each direction,
and activities whose tenant is not the sender's: the other tenant's rows are the same before and after,
and the person sees a refusal, never the other tenant's post. A single-tenant bot takes an Entra token of
its tenant only with an activity of that tenant, whichever tenant it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import FakeTeams
from models import Post, Workspace
from tests.fakes.bot_framework import FakeBotFramework, FakeEntra
from tests.handlers.slack.test_cross_workspace import snapshot
from tests.handlers.teams.driver import TENANT, SettingsFactory, activity, teams_app
from tests.handlers.teams.team import (
    ANN,
    ANN_CHAT,
    BOB,
    CHANNEL,
    MENTION,
    Team,
    button,
    installed_team,
)

Sessions = async_sessionmaker[AsyncSession]
GLOBEX = "b7a1c9de-0000-4000-8000-0000000000bb"
GLOBEX_CHANNEL = "19:globex-general@thread.tacv2"
GINA = {"id": "29:gina", "name": "Gina Admin", "aadObjectId": "aad-gina"}
GUS = {"id": "29:gus", "name": "Gus Green", "aadObjectId": "aad-gus"}
GINA_CHAT, GUS_CHAT = "a:gina-personal", "a:gus-personal"


def fields_of(fields: dict[str, Any]) -> dict[str, Any]:
    """An activity's fields (`from` is a keyword: they are passed as a mapping)."""
    return fields


@dataclass
class Tenant:
    """One tenant as the tests meet it: its admin and member, its channel and chats, its post."""

    name: str
    tenant: str
    admin: dict[str, str]
    member: dict[str, str]
    channel: str
    chat: str
    caption: str
    card_id: str = ""
    card: dict[str, Any] | None = None
    post: int = 0


@dataclass
class Tenants:
    team: Team
    sides: dict[str, Tenant]

    @property
    def connector(self) -> FakeTeams:
        return self.team.connector

    def in_channel(
        self, side: Tenant, person: dict[str, str], text: str, *, tenant: str | None = None
    ) -> dict[str, Any]:
        """`person` writing `text` to Relais in `side`'s channel, in `tenant` as the activity says
        (`side`'s own unless told)."""
        tenant = tenant or side.tenant
        return activity(
            self.connector.service_url,
            text=f"<at>Relais</at> {text}",
            **fields_of(
                {
                    "from": person,
                    "conversation": {
                        "id": f"{side.channel};messageid=1764200009999",
                        "conversationType": "channel",
                        "isGroup": True,
                        "tenantId": tenant,
                    },
                    "channelData": {
                        "tenant": {"id": tenant},
                        "team": {"id": side.channel, "name": side.name},
                        "channel": {"id": side.channel},
                    },
                    "entities": [
                        MENTION,
                        {"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"},
                    ],
                }
            ),
        )

    def personal(
        self, side: Tenant, person: dict[str, str], text: str, *, tenant: str | None = None
    ) -> dict[str, Any]:
        tenant = tenant or side.tenant
        return activity(
            self.connector.service_url,
            text=text,
            **fields_of(
                {
                    "from": person,
                    "conversation": {"id": side.chat, "conversationType": "personal", "tenantId": tenant},
                    "channelData": {"tenant": {"id": tenant}},
                    "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
                }
            ),
        )

    def invoke(
        self,
        side: Tenant,
        person: dict[str, str],
        data: dict[str, Any],
        verb: str,
        *,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """A click on the post card in `side`'s channel, carrying `data`."""
        body = self.in_channel(side, person, "", tenant=tenant)
        body.update(
            type="invoke",
            name="adaptiveCard/action",
            text=None,
            replyToId=side.card_id,
            conversation={**body["conversation"], "id": f"{side.channel};messageid={side.card_id}"},
            entities=[{"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        )
        return body

    async def said(self, body: dict[str, Any]) -> str:
        """Post `body`: everything Relais answered (invoke response, replies and messages it sent)."""
        before = len(self.connector.calls)
        response = await self.team.teams.post(body)
        assert response.status_code in (200, 202), response.text
        await self.team.teams.settle()
        return response.text + "".join(str(call.body) for call in self.connector.calls[before:])


@pytest.fixture
async def tenants(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
) -> AsyncIterator[Tenants]:
    """Acme (the `installed_team`: Ann, Bob) and Globex (Gina installs Relais in its General channel; Gus
    is a member), each with a post its admin queued from its channel."""
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as team:
        connector = team.connector
        connector.add_member("29:gina", aad_object_id="aad-gina", name="Gina Admin", tenant_id=GLOBEX)
        connector.add_member("29:gus", aad_object_id="aad-gus", name="Gus Green", tenant_id=GLOBEX)
        connector.add_conversation(GLOBEX_CHANNEL, tenant_id=GLOBEX)
        connector.add_conversation(
            GINA_CHAT, conversation_type="personal", members=["29:gina"], tenant_id=GLOBEX
        )
        connector.add_conversation(
            GUS_CHAT, conversation_type="personal", members=["29:gus"], tenant_id=GLOBEX
        )
        sides = {
            "acme": Tenant("Acme", TENANT, ANN, BOB, CHANNEL, ANN_CHAT, "Acme is proud"),
            "globex": Tenant("Globex", GLOBEX, GINA, GUS, GLOBEX_CHANNEL, GINA_CHAT, "Globex is proud"),
        }
        made = Tenants(team, sides)
        install = made.in_channel(sides["globex"], GINA, "")
        install.update(type="installationUpdate", action="add", text=None, entities=[])
        assert (await team.teams.post(install)).status_code == 202
        await team.teams.settle()
        for side in sides.values():
            article = f"https://example.com/{side.name.lower()}"
            await made.said(made.in_channel(side, side.admin, f"queue {article} {side.caption}"))
            posted = [body for body in connector.activities(side.channel) if "attachments" in body]
            [card] = [body for body in posted if "replyToId" not in body and side.caption in str(body)]
            side.card_id, side.card = str(card["id"]), card["attachments"][0]["content"]
            async with sessions() as session:
                side.post = (await session.scalars(select(Post.id).where(Post.url == article))).one()
        yield made


DIRECTIONS = [
    pytest.param("acme", "globex", id="acme-to-globex"),
    pytest.param("globex", "acme", id="globex-to-acme"),
]


def naming(data: dict[str, Any], post: int) -> dict[str, Any]:
    """A button's data with every id it carries replaced by `post`."""
    return {
        key: (f"{post}{value[value.index(':') :]}" if ":" in value else str(post))
        if key in ("value", "post_id") and isinstance(value, str)
        else value
        for key, value in data.items()
    }


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_a_card_button_naming_the_other_tenants_post_changes_nothing_there(
    tenants: Tenants, sessions: Sessions, home: str, away: str
) -> None:
    mine, other = tenants.sides[home], tenants.sides[away]
    assert mine.card is not None
    before = await snapshot(sessions, other.tenant)
    for verb in ("share_linkedin", "share_x", "not_for_me", "edit_share"):
        found = button(mine.card, verb)
        said = await tenants.said(tenants.invoke(mine, mine.member, naming(found["data"], other.post), verb))
        assert "This post is no longer available." in said, (verb, said)
        assert other.caption not in said, (verb, said)
        assert "example.com/" + other.name.lower() not in said
    said = await tenants.said(tenants.in_channel(mine, mine.admin, f"cancel {other.post}"))
    assert f"There is no post #{other.post} here" in said
    assert await snapshot(sessions, other.tenant) == before


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_an_activity_naming_another_tenant_gives_no_admin_right_there(
    tenants: Tenants, sessions: Sessions, home: str, away: str
) -> None:
    """The activity says the tenant; an admin of one tenant, in an activity naming the other, is a member
    there like any other: the admin commands are refused and none of its rows change."""
    mine, other = tenants.sides[home], tenants.sides[away]
    before = await snapshot(sessions, other.tenant, strangers=(mine.admin["aadObjectId"],))
    for typed in ("list", "stats", f"cancel {other.post}", "channel"):
        said = await tenants.said(tenants.personal(mine, mine.admin, typed, tenant=other.tenant))
        assert "Only Relais admins can use" in said, (typed, said)
        assert other.caption not in said
    after = await snapshot(sessions, other.tenant, strangers=(mine.admin["aadObjectId"],))
    # The tenant's pace moved on: the refusals were sent in it, as Teams counts them.
    assert {k: v for k, v in after.items() if k != "outbox_pacing"} == {
        k: v for k, v in before.items() if k != "outbox_pacing"
    }


# ---------------------------------------------------------------------------------------------------------
# A single-tenant bot: the Entra token's tenant against the activity's


def bearer(entra: FakeEntra, tenant: str) -> str:
    return "Bearer " + entra.token(tenant=tenant, version=2)


@pytest.mark.parametrize(
    ("served", "forged"), [(TENANT, GLOBEX), (GLOBEX, TENANT)], ids=["acme-bot", "globex-bot"]
)
async def test_an_activity_naming_another_tenant_than_its_entra_token_is_refused(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
    served: str,
    forged: str,
) -> None:
    """An Entra token of the bot's tenant with an activity that names the other tenant (in its
    conversation, or in its channel data only): 403 or served as the token's tenant, never as the other;
    the other tenant gets no row. And a token of the other tenant is refused whatever the activity says."""
    settings = teams_settings(
        microsoft_app_type="SingleTenant", microsoft_app_tenant_id=served, microsoft_login_url=entra.login_url
    )

    def written_by(person: dict[str, str], tenant: str, data_tenant: str) -> dict[str, Any]:
        return activity(
            fake_teams.service_url,
            text="me",
            **fields_of(
                {
                    "from": person,
                    "conversation": {
                        "id": "a:x-personal",
                        "conversationType": "personal",
                        "tenantId": tenant,
                    },
                    "channelData": {"tenant": {"id": data_tenant}},
                }
            ),
        )

    fake_teams.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone", tenant_id=served)
    fake_teams.add_conversation(
        "a:x-personal", conversation_type="personal", members=["29:bob"], tenant_id=served
    )
    async with teams_app(settings, engine, bot_framework, fake_teams) as teams:
        forged_activity = written_by(BOB, forged, forged)
        refused = await teams.client.post(
            "/api/messages", json=forged_activity, headers={"Authorization": bearer(entra, served)}
        )
        assert (refused.status_code, refused.json()) == (403, {"error": "this Relais serves another tenant"})
        mixed = written_by(BOB, forged, served)
        refused = await teams.client.post(
            "/api/messages", json=mixed, headers={"Authorization": bearer(entra, served)}
        )
        assert refused.status_code == 403
        other_token = written_by(BOB, forged, forged)
        refused = await teams.client.post(
            "/api/messages", json=other_token, headers={"Authorization": bearer(entra, forged)}
        )
        assert refused.status_code == 401
        # Its own tenant in the conversation, the other only in the channel data: served as its own.
        own = written_by(BOB, served, forged)
        assert (
            await teams.client.post(
                "/api/messages", json=own, headers={"Authorization": bearer(entra, served)}
            )
        ).status_code in (200, 202)
        await teams.settle()
    async with sessions() as session:
        tenants = (await session.scalars(select(Workspace.external_id))).all()
    assert forged not in tenants
    assert list(tenants) == [served]
