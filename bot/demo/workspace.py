"""The demo's Slack workspace (Acme: Ada the admin, Élodie who uses Slack in French, Bob, Carla; #news
and #general) and a driver that acts in it as Slack does: signed slash commands, button clicks, form
submissions and events sent to the running app, and what the app sent back read from the fake Slack.

It ships in the package so that `relais demo` runs after a plain `pip install .`; the test suite drives
the app through the same driver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import command_body, event_body, signed_headers

TEAM = "T0001"
SIGNING_SECRET = "test-signing-secret"  # noqa: S105  # the fake workspace's, never a real one
BOT_TOKEN = "xoxb-test-token"  # noqa: S105


@dataclass
class Sent:
    """A request sent to the app, and the response_url Slack gave it."""

    status: int
    url_id: str


class SlackDriver:
    """Acts in workspace `team` (of Enterprise Grid organisation `enterprise`, through the org-wide
    installation when `org_install`), as Slack names it in each payload."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        fake: FakeSlack,
        *,
        team: str = TEAM,
        enterprise: str | None = None,
        org_install: bool = False,
    ) -> None:
        self.client = client
        self.fake = fake
        self.team = team
        self.enterprise = enterprise
        self.org_install = org_install

    async def post(self, body: bytes, content_type: str, **headers: str) -> httpx.Response:
        signed = signed_headers(SIGNING_SECRET, body, content_type=content_type)
        return await self.client.post("/slack/events", content=body, headers={**signed, **headers})

    async def command(self, user: str, text: str, *, channel: str = "C0GENERAL") -> dict[str, Any]:
        """Run `/relais <text>` as `user` and return the ephemeral reply the app posted."""
        sent = await self.send_command(user, text, channel=channel)
        assert sent.status == 200
        return (await self.responses(sent.url_id))[0]

    async def send_command(self, user: str, text: str, *, channel: str = "C0GENERAL") -> Sent:
        url = self.fake.response_url(channel=channel, user=user)
        url_id = url.rsplit("/", 1)[1]
        form = dict(
            _form(command_body(text, user_id=user, team_id=self.team)), channel_id=channel, response_url=url
        )
        if self.enterprise is not None:
            form.update(enterprise_id=self.enterprise, is_enterprise_install=str(self.org_install).lower())
        response = await self.post(urlencode(form).encode(), "application/x-www-form-urlencoded")
        return Sent(response.status_code, url_id)

    async def click(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str = "C0NEWS",
        message_ts: str | None = None,
        url: str | None = None,
        ephemeral: bool = False,
        retry: int | None = None,
        home: bool = False,
    ) -> Sent:
        """Click a button (a `block_actions` payload, form-encoded as Slack sends it)."""
        response_url = self.fake.response_url(channel=channel, message_ts=message_ts, user=user)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "b",
            "text": {"type": "plain_text", "text": "button"},
            "value": value,
            "type": "button",
            "action_ts": "1764200000.000001",
        }
        if url is not None:
            action["url"] = url
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team},
            "api_app_id": "A0001",
            "token": "legacy",
            "container": {"type": "message", "message_ts": message_ts or "1.1", "channel_id": channel,
                          "is_ephemeral": ephemeral},
            "trigger_id": "1111.2222.trigger",
            "team": {"id": self.team, "domain": "acme"},
            "enterprise": {"id": self.enterprise, "name": self.enterprise} if self.enterprise else None,
            "is_enterprise_install": self.org_install,
            "channel": {"id": channel, "name": "news"},
            "response_url": response_url,
            "actions": [action],
        }  # fmt: skip
        if home:  # a click in the App Home tab: a view container and no response_url
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home"}
            del payload["response_url"], payload["channel"]
        body = urlencode({"payload": json.dumps(payload)}).encode()
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        response = await self.post(body, "application/x-www-form-urlencoded", **extra)
        return Sent(response.status_code, response_url.rsplit("/", 1)[1])

    async def submit(
        self,
        user: str,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        *,
        private_metadata: str = "",
        installed_team: str | None = None,
    ) -> httpx.Response:
        """Submit a modal (`view_submission`); `values` maps block ids to the element's state.
        `installed_team`: the view's `app_installed_team_id` (a modal opened through a Slack Connect
        channel), which Bolt authorizes by."""
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": {"id": self.team, "domain": "acme"},
            "enterprise": {"id": self.enterprise, "name": self.enterprise} if self.enterprise else None,
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team},
            "api_app_id": "A0001",
            "token": "legacy",
            "trigger_id": "3333.4444.trigger",
            "view": {
                "id": "VMODAL",
                "team_id": self.team,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": {block: {"value": state} for block, state in values.items()}},
                "hash": "1.abc",
                **({"app_installed_team_id": installed_team} if installed_team else {}),
            },
            "response_urls": [],
            "is_enterprise_install": self.org_install,
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str = "Ev0001",
        retry: int | None = None,
        event_time: int | None = None,
        org_level: bool = False,
    ) -> int:
        """Deliver an Events API event (sent by Slack at `event_time`, epoch seconds: now unless given);
        returns the HTTP status the app answered. `org_level`: an Enterprise Grid organisation's own
        event (`team_access_granted`, `team_access_revoked`), whose envelope Slack sends naming its
        `enterprise_id` only: no `team_id`, no `authorizations`."""
        envelope = json.loads(event_body(event, team_id=self.team, event_id=event_id))
        if self.enterprise is not None:
            envelope.update(enterprise_id=self.enterprise, is_enterprise_install=self.org_install)
        if event_time is not None:
            envelope.update(event_time=event_time)
        if org_level:
            assert self.enterprise is not None, "an organisation's event needs its enterprise id"
            del envelope["team_id"], envelope["is_enterprise_install"]
            return await self._deliver(envelope, retry)
        # The installation the event is for, as Slack names it (Bolt authorizes by it): an
        # organisation's names no team.
        envelope["authorizations"] = [
            {
                "enterprise_id": self.enterprise,
                "team_id": None if self.org_install else self.team,
                "user_id": self.fake.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": self.org_install,
            }
        ]
        return await self._deliver(envelope, retry)

    async def _deliver(self, envelope: dict[str, Any], retry: int | None) -> int:
        body = json.dumps(envelope).encode()
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return (await self.post(body, "application/json", **extra)).status_code

    async def responses(self, url_id: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found := self.fake.responses_to(url_id)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(found)} responses to {url_id}, expected {count}")
            await asyncio.sleep(0.01)
        return found

    async def settle(self, seconds: float = 0.2) -> None:
        """Let background work after an ack finish (used before asserting that something did NOT happen)."""
        await asyncio.sleep(seconds)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait until `check()` is true: for what the app does after it has answered (the ack comes first)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def setup_workspace(fake: FakeSlack) -> None:
    fake.add_user("UADMIN", real_name="Ada Admin", is_admin=True, tz="Europe/Paris")
    fake.add_user("UEMP1", real_name="Élodie", locale="fr-FR", tz="Europe/Paris")
    fake.add_user("UEMP2", real_name="Bob", locale="en-GB", tz="Europe/London")
    fake.add_user("UEMP3", real_name="Carla", locale="en-US", tz="America/New_York")
    fake.add_channel("C0NEWS", "news")
    fake.add_channel("C0GENERAL", "general")
