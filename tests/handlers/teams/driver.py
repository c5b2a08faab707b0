"""The Teams tests' running app: Relais serving `/api/messages` with the Bot Framework's keys and the Bot
Connector faked on 127.0.0.1 (`tests.fakes.bot_framework`, `bot.demo.fake_teams`), and activities posted
to it as the Bot Framework posts them: JSON with a bearer token signed for the activity's serviceUrl."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from itertools import count
from typing import Any

import httpx
from aiohttp import web
from microsoft_agents.hosting.core import AnonymousTokenProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_teams import FakeTeams
from bot.web import TASKS_KEY, create_app
from handlers.teams.platform import TEAMS_SENDER_KEY, TeamsPlatform
from tests.conftest import running
from tests.fakes.bot_framework import FakeBotFramework

APP_ID = "00000000-0000-4000-8000-00000000a991"
APP_PASSWORD = "teams-app-very-secret"
TENANT = "tenant-1"
OUTBOUND_TOKEN = "fake-outbound-token"
# A Wednesday morning in Paris.
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

SettingsFactory = Callable[..., Settings]

_ids = count(1)
SIGNED: Any = object()  # the default Authorization: a valid token


class FixedTokens(AnonymousTokenProvider):
    """The bot's own credentials, as MSAL would get them from Microsoft Entra ID (out of reach here)."""

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return OUTBOUND_TOKEN


def activity(service_url: str | None, kind: str = "message", **fields: Any) -> dict[str, Any]:
    """An activity as the Bot Framework sends it from Teams: a person writing to the bot in a 1:1 chat,
    unless `fields` say otherwise."""
    body: dict[str, Any] = {
        "type": kind,
        "id": f"activity-{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2026-11-25T09:00:00.000Z",
        "from": {"id": "29:ann", "name": "Ann Lee", "aadObjectId": "aad-ann"},
        "recipient": {"id": f"28:{APP_ID}", "name": "Relais"},
        "conversation": {"id": "a:ann-personal", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-US",
        "text": "help",
    }
    body.update(fields)
    return body


@dataclass
class TeamsDriver:
    """Posts activities to the running app as the Bot Framework does."""

    client: httpx.AsyncClient
    keys: FakeBotFramework
    connector: FakeTeams
    app: web.Application | None = None

    async def settle(self) -> None:
        """Wait until what the last activities or requests enqueued was sent (Relais sends it after each
        turn, and after a share link counted a share)."""
        assert self.app is not None
        while self.app[TASKS_KEY]:
            await asyncio.gather(*self.app[TASKS_KEY])
        await self.app[TEAMS_SENDER_KEY].settle()

    async def post(self, body: Any, *, authorization: str | None = SIGNED) -> httpx.Response:
        """POST `body` (JSON) to /api/messages with the `Authorization` header given (None: none), by
        default a bearer token the Bot Framework signs for the body's serviceUrl."""
        if authorization is SIGNED:
            authorization = "Bearer " + self.keys.token(service_url=body["serviceUrl"])
        headers = {} if authorization is None else {"Authorization": authorization}
        return await self.client.post("/api/messages", json=body, headers=headers)


@asynccontextmanager
async def teams_app(
    settings: Settings,
    engine: AsyncEngine,
    keys: FakeBotFramework,
    connector: FakeTeams,
    *,
    clock: FrozenClock | None = None,
    platform: TeamsPlatform | None = None,
    fetch_allowed_networks: tuple[IPv4Network | IPv6Network, ...] = (),
) -> AsyncIterator[TeamsDriver]:
    """Relais serving Teams alone, with the bot's own tokens fixed (`FixedTokens`);
    `fetch_allowed_networks` as `create_app`'s (a test's article on a local address)."""
    app = create_app(
        settings,
        engine=engine,
        clock=clock or FrozenClock(START),
        adapters=[platform or TeamsPlatform(tokens=FixedTokens())],
        fetch_allowed_networks=fetch_allowed_networks,
    )
    async with running(app) as client:
        yield TeamsDriver(client, keys, connector, app)
