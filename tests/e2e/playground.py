"""A driver for the Microsoft 365 Agents Playground (`@microsoft/m365agentsplayground`, pinned in
tests/e2e/package.json): the local Teams client Microsoft ships for bots, run headless and offline, and
driven over its own HTTP routes (install, send a message, press a card's button) and its WebSocket
(every message the bot posts or updates, as its web page would show them).

What the Playground is and is not (docs/teams-sdk-notes.md, section 5): one tenant, one team (`team-id`,
whose General channel has the team's id), one current user (`user-id-0`, Alex Wilber) with one
personal chat, and a few other users (`user-id-1`…); every 1:1 conversation the bot opens, for anyone,
is that one personal chat. It sends no token (Relais in anonymous mode), `locale` is always en-US, and
the time zone is its process's `TZ`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
# Installed by `python3 dev.py e2e` (npm ci in this folder); ignored by git.
PLAYGROUND = HERE / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CARD = "application/vnd.microsoft.card.adaptive"
SHOWN = "/_ws_conversation/v1/conversations/stream"  # what the Playground's chats show
LOG = "/_ws/log/stream"  # every request between the bot and the Playground, in any conversation
WAIT_SECONDS = 20.0  # the longest a step waits for the bot's answer to show in the Playground


def missing() -> str | None:
    """Why the Playground cannot run here (None: it can)."""
    if shutil.which("node") is None:
        return "Node.js is not installed (node not on PATH)"
    if not PLAYGROUND.exists():
        return f"the Agents Playground is not installed ({PLAYGROUND}): run `python3 dev.py e2e`"
    return None


@dataclass
class Posted:
    """A message the bot posted (or updated)."""

    action: str  # createMessage or updateMessage (shown), or the log's activity name (received)
    conversation: str
    id: str
    cards: list[dict[str, Any]]
    text: str

    @property
    def thread(self) -> str:
        """The conversation a reply or a click on this message belongs to: in a channel, the thread the
        message starts (`<channel>;messageid=<id>`); elsewhere the conversation itself."""
        if self.conversation.startswith("team-") or ";" in self.conversation:
            return self.conversation.split(";")[0] + f";messageid={self.id}"
        return self.conversation


@dataclass
class Playground:
    """A running Playground (`url`), its configuration (`config`: tenant, bot, users, personal chat, team)
    and what the bot posted so far, in order: `posted`, what its chats show (the team's channels and the
    current user's personal chat); `received`, every message its Bot Connector accepted, in any
    conversation, including the 1:1 chats the bot opened with the other users (`chats`, by user id),
    which its page does not show."""

    url: str
    config: dict[str, Any]
    client: httpx.AsyncClient
    posted: list[Posted] = field(default_factory=list)
    received: list[Posted] = field(default_factory=list)
    chats: dict[str, str] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def personal_chat(self) -> str:
        return str(self.config["personalChat"]["id"])

    @property
    def channel(self) -> str:
        """The team's General channel (its id is the team's)."""
        return str(self.config["teams"][0]["channels"][0]["id"])

    @property
    def me(self) -> dict[str, Any]:
        """The current user: the one who installs, and whose personal chat is the Playground's."""
        user: dict[str, Any] = self.config["currentUser"]
        return user

    def user(self, number: int) -> dict[str, Any]:
        """One of the other users (`user-id-<number>`)."""
        (found,) = [u for u in self.config["users"] if u["id"] == f"user-id-{number}"]
        return dict(found)

    async def install(self, conversation: str) -> None:
        """The current user adds the bot to this conversation (a team's channel, or the personal chat)."""
        answer = await self.client.post(f"/_debug/conversation/{conversation}/installation", json={})
        answer.raise_for_status()

    async def say(self, conversation: str, user: dict[str, Any], text: str, *, mention: bool = False) -> str:
        """`user` types `text` in the conversation (in a channel, @mentioning the bot first when
        `mention`); returns the message's id."""
        body: dict[str, Any] = {"from": {"id": user["id"]}, "text": text, "textFormat": "plain"}
        if mention:
            tag = f"<at>{self.config['bot']['name']}</at>"
            body["text"] = f"{tag} {text}"
            body["mentions"] = [{"mentioned": {"id": self.config["bot"]["id"]}, "text": tag}]
        answer = await self.client.post(f"/_conversation/v1/conversations/{conversation}/messages", json=body)
        answer.raise_for_status()
        return str(answer.json()["messageId"])

    async def press(
        self, user: dict[str, Any], posted: Posted, button: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """`user` presses an `Action.Execute` button of a card the bot posted: the invoke the client sends;
        returns the HTTP status and the bot's invoke answer as the Playground hands it to the card
        (`{"type", "value"}`, its status code removed)."""
        answer = await self.client.post(
            "/_conversation/v1/invoke",
            json={
                "name": "adaptiveCard/action",
                "from": {"id": user["id"]},
                "conversation": {"id": posted.thread},
                "replyToId": posted.id,
                "value": {
                    "action": {
                        "type": "Action.Execute",
                        "verb": button["verb"],
                        "data": button.get("data", {}),
                    },
                    "trigger": "manual",
                },
            },
        )
        return answer.status_code, answer.json()

    async def wait_for(self, found: Callable[[Posted], bool], *, after: int = 0) -> Posted:
        """The first message shown from index `after` on that `found` accepts, waiting for it."""
        (first,) = await self._wait(self.posted, found, 1, after)
        return first

    async def wait_for_all(
        self, found: Callable[[Posted], bool], count: int, *, after: int = 0
    ) -> list[Posted]:
        """The first `count` messages shown from index `after` on that `found` accepts, waiting for them."""
        return await self._wait(self.posted, found, count, after)

    async def wait_received(
        self, found: Callable[[Posted], bool], count: int, *, after: int = 0
    ) -> list[Posted]:
        """The first `count` messages received (in any conversation) from index `after` on that `found`
        accepts, waiting for them."""
        return await self._wait(self.received, found, count, after)

    async def _wait(
        self, source: list[Posted], found: Callable[[Posted], bool], count: int, after: int
    ) -> list[Posted]:
        """Up to `WAIT_SECONDS`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while True:
            accepted = [message for message in source[after:] if found(message)]
            if len(accepted) >= count:
                return accepted[:count]
            self.arrived.clear()
            left = deadline - loop.time()
            if left <= 0:
                listed = "\n".join(f"  {m.conversation}: {m.text[:200]!r}" for m in source[after:])
                raise AssertionError(
                    f"{len(accepted)} of {count} not there within {WAIT_SECONDS} s; there:\n{listed}"
                )
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def _listen(self, stream: aiohttp.ClientWebSocketResponse) -> None:
        """What the chats show: `{"action": "createMessage"|"updateMessage", "actionConversationId",
        "message": {"messageId", "text", "attachments"}}`."""
        async for frame in stream:
            event = json.loads(frame.data) if frame.type == aiohttp.WSMsgType.TEXT else {}
            if event.get("action") in ("createMessage", "updateMessage"):
                message = event["message"]
                self._add(self.posted, event["action"], event.get("actionConversationId"), message)

    async def _log(self, stream: aiohttp.ClientWebSocketResponse) -> None:
        """The Playground's request log: `{"logAction": "appendLog", "log": {"activityName", "from":
        "User Application" (the bot), "request": {"body"}, "response": {"statusCode", "body"}}}`."""
        async for frame in stream:
            event = json.loads(frame.data) if frame.type == aiohttp.WSMsgType.TEXT else {}
            entry = event.get("log") if event.get("logAction") == "appendLog" else None
            if not entry or entry.get("from") != "User Application" or "request" not in entry:
                continue
            body, response = entry["request"].get("body") or {}, entry.get("response") or {}
            if entry.get("activityName") == "createConversation" and response.get("statusCode") == 201:
                (member,) = body["members"]
                self.chats[member["id"]] = response["body"]["id"]
                self.arrived.set()
            elif body.get("type") == "message" and response.get("statusCode") in (200, 201):
                message = {**body, "messageId": (response.get("body") or {}).get("id")}
                self._add(self.received, entry["activityName"], body["conversation"]["id"], message)

    def _add(self, to: list[Posted], action: str, conversation: object, message: dict[str, Any]) -> None:
        cards = [a["content"] for a in message.get("attachments") or [] if a.get("contentType") == CARD]
        to.append(
            Posted(
                action=action,
                conversation=str(conversation),
                id=str(message.get("messageId")),
                cards=cards,
                text="\n".join([message.get("text") or "", *(t for c in cards for t in texts(c))]),
            )
        )
        self.arrived.set()


def texts(node: Any) -> list[str]:
    """Every TextBlock's text and every fact of a card, in order."""
    if isinstance(node, dict):
        found = [str(node["text"])] if node.get("type") == "TextBlock" else []
        if node.get("type") == "FactSet":
            found += [f"{fact['title']} {fact['value']}" for fact in node["facts"]]
        return found + [text for value in node.values() for text in texts(value)]
    if isinstance(node, list):
        return [text for item in node for text in texts(item)]
    return []


@asynccontextmanager
async def playground(bot_endpoint: str, port: int, folder: Path) -> AsyncIterator[Playground]:
    """Run the Playground on `port` against `bot_endpoint` (the bot must already answer: the Playground
    waits for it before it serves its configuration), headless (no browser), offline (no client id: no
    sign-in, no token), without telemetry, with its log and working files in `folder`, and listen to
    what the bot posts."""
    environment = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(folder / "playground.log"),
        "TZ": "UTC",
    }
    log = (folder / "playground.out").open("wb")
    process = await asyncio.create_subprocess_exec(
        "node",
        str(PLAYGROUND),
        *("--app-endpoint", bot_endpoint, "--channel-id", "msteams", "--port", str(port)),
        "--disable-telemetry",
        cwd=folder,
        env=environment,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client, aiohttp.ClientSession() as web:
            config = await _config(client, process, folder)
            running = Playground(url, config, client)
            base = url.replace("http://", "ws://")
            streams = [await web.ws_connect(base + SHOWN), await web.ws_connect(base + LOG)]
            listening = [
                asyncio.create_task(running._listen(streams[0])),
                asyncio.create_task(running._log(streams[1])),
            ]
            try:
                yield running
            finally:
                for task in listening:
                    task.cancel()
                await asyncio.gather(*listening, return_exceptions=True)
                for stream in streams:
                    await stream.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def _config(
    client: httpx.AsyncClient, process: asyncio.subprocess.Process, folder: Path
) -> dict[str, Any]:
    for _ in range(300):
        if process.returncode is not None:
            raise AssertionError(f"the Playground exited: {(folder / 'playground.out').read_text()[-2000:]}")
        try:
            answer = await client.get("/_internal/v1/config")
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        answer.raise_for_status()
        config: dict[str, Any] = answer.json()["config"]
        return config
    raise AssertionError(f"the Playground did not start: {(folder / 'playground.out').read_text()[-2000:]}")
