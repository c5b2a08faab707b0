"""A real `relais serve` (or `relais clock`) process on 127.0.0.1 against a fake Slack in this process, for
the benchmarks that measure what a member waits for or what a process holds in memory.

The fake Slack records when each `response_url` answer arrives (`TimedFakeSlack.arrived`), so that a
benchmark can time a slash command to the answer the member sees, not only to the ack.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

import httpx
from aiohttp import web

from bot.demo import workspace
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import command_body, signed_headers

RELAIS: Final = str(Path(sys.executable).with_name("relais"))
# The demo workspace's (`bot.demo.workspace`), so that its `SlackDriver` can act against the process.
SIGNING_SECRET: Final = workspace.SIGNING_SECRET
BOT_TOKEN: Final = workspace.BOT_TOKEN
TEAM: Final = workspace.TEAM


class TimedFakeSlack(FakeSlack):
    """The fake Slack, noting when each response_url answer arrived (`time.perf_counter()`)."""

    def __init__(self) -> None:
        super().__init__(bot_token=BOT_TOKEN, team_id=TEAM)
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        at = time.perf_counter()
        self.arrived.setdefault(url_id, at)
        waiter = self.waiters.pop(url_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)
        return await super()._handle_response_url(request)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without any Relais setting, plus `variables`."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DATABASE_", "RELAIS_", "MICROSOFT_", "LINKEDIN_", "X_"))
    }
    return {**kept, "LOG_LEVEL": "WARNING", **variables}


async def migrate(database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        RELAIS, "migrate", env=environment(DATABASE_URL=database_url), stdout=asyncio.subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise RuntimeError("relais migrate failed")


@dataclass
class Served:
    process: asyncio.subprocess.Process
    client: httpx.AsyncClient
    fake: TimedFakeSlack
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def driver(self) -> workspace.SlackDriver:
        """Acts in the workspace as Slack does (signed clicks and commands) against this process."""
        return workspace.SlackDriver(self.client, self.fake)

    async def command(self, user: str, text: str, *, channel: str = "C0GENERAL") -> tuple[int, str]:
        """Send the signed `/relais <text>` of `user`; returns the HTTP status and the response_url's name."""
        response_url = self.fake.response_url(channel=channel, user=user)
        url_id = response_url.rsplit("/", 1)[1]
        form = dict(_form(command_body(text, user_id=user, team_id=TEAM)), channel_id=channel)
        form["response_url"] = response_url
        body = urlencode(form).encode()
        headers = signed_headers(SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded")
        answer = await self.client.post("/slack/events", content=body, headers=headers)
        return answer.status_code, url_id

    def expect_answer(self, url_id: str) -> asyncio.Future[float]:
        """A future set to the moment the answer to `url_id` arrives (at once if it already has)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if url_id in self.fake.arrived:
            future.set_result(self.fake.arrived[url_id])
        else:
            self.fake.waiters[url_id] = future
        return future


def _form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode()))


@asynccontextmanager
async def relais_serve(database_url: str, fake: TimedFakeSlack, **settings: str) -> AsyncIterator[Served]:
    """`relais serve` on a free port, with the fake Slack's token and signing secret; stopped by SIGTERM."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        RELAIS,
        "serve",
        env=environment(
            DATABASE_URL=database_url,
            PORT=str(port),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            **settings,
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        try:
            await _wait_until_up(client, process)
            yield Served(process, client, fake, url)
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _wait_until_up(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise RuntimeError(f"relais serve exited early with {process.returncode}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("relais serve did not come up in 30 s")


def rss_kib(pid: int) -> int:
    """The resident set size of process `pid`, in KiB (`VmRSS` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], share: float) -> float:
    """The `share` (0..1) percentile of `values`, nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


@asynccontextmanager
async def relais_clock(database_url: str, fake: TimedFakeSlack, **settings: str) -> AsyncIterator[int]:
    """`relais clock` with the fake Slack's token; yields its pid; stopped by SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        RELAIS,
        "clock",
        env=environment(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            **settings,
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process.pid
        if process.returncode is not None:
            raise RuntimeError(f"relais clock exited early with {process.returncode}")
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
