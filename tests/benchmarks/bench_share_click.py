"""Benchmark of the share click: Relais against a bare Bolt app that only acks (issue 13, targets 1 and 2).

    python -m tests.benchmarks.bench_share_click [--quick] [--repeats 3] [--postgres URL]
    python -m tests.benchmarks.bench_share_click --detailed [--clicks N] [--concurrency 50] [--database-url U]

Not a test (the name keeps pytest away). The first form prints the figures `python3 dev.py bench` shows
(`measure`), each against its target; the second, the detailed runs of docs/benchmarks.md (a number of
clicks on `open_share_x`, with CPU use, `--profile`, `--flood`), which assert nothing about speed.

Each server runs in a process of its own (spawned), with a FakeSlack inside it (Bolt's auth.test,
Relais's users.info after the ack, the answers posted to the response_url) and, for Share with a
connected account, a FakeLinkedIn (the API post made after the ack). This process only generates load:
signed `block_actions` clicks, `concurrency` in flight at once over keep-alive connections (aiohttp;
`--client httpx` for httpx, which cannot keep up, see `load_client`), each request timed. The load
generator shares the machine with the servers it measures (and PostgreSQL, when given).

* the bare Bolt `AsyncApp` (same signing secret, `process_before_response=False`) with one listener
  that only acks, served by `handlers.slack.platform.handle_slack_events` on aiohttp;
* Relais: the real `bot.web.create_app` on a fresh schema (SQLite: a temporary file; PostgreSQL: the
  database given, whose tables are DROPPED and recreated) with one published post.

The figures (`measure`): for each button that records something before the ack — opening the personal
share link (`open_share_x`: the intent share), Share with a connected LinkedIn (`share_linkedin`: the
API post claimed), Not for me (the dismissal) — on first contacts (no member row yet) and known members
(in the database; the only kind for a connected account), on SQLite and PostgreSQL, one server process
warmed up with 300 clicks then loaded for 10 s at 50 and then for 10 s at 200 concurrent, every click
by a member who never clicked before; the bare Bolt app gets the same loads just before, in the same
run. Per load: throughput against the bare app's (target >= 0.7x); p99 (target <= 100 ms at 50
concurrent); errors (non-200 answers, "nothing was changed" answers, errors logged; target 0); the
seconds from the end of the load until the last answer reached the fake's response_url, once the work
after the acks is done (target <= 10 s); acked clicks not answered exactly once (target 0); acked
members without their row right after the last answer (target 0: durable before the ack); members told
that nothing was changed whose row was recorded all the same (target 0). Target 2: the open link on
first contacts spread round-robin over two server processes on one PostgreSQL, throughput against one
process in the same repeat (target >= 1.3x) and shares not exactly once (target 0). Each measurement
runs `repeats` times: medians, and the worst run for the correctness counts. `--quick`: 2 s loads after
100 warm-up clicks.

How long: a quick run with one repeat takes about 2 minutes on SQLite alone and 4.5 with PostgreSQL (2
cores, 2026-11-29). A full run is 26 loads of 10 s per repeat plus about 3 minutes of starting,
preparing and settling, so about 7 minutes per repeat with PostgreSQL (20 for the default 3 repeats),
half that without; more while the work after the acks lags (its wait is bounded at `SETTLE_LIMIT`).

The detailed runs (`--detailed`): `bolt`, then `relais` with clicks from
  - `new`: a different member each, on their first contact (the click creates the member row too);
  - `known`: a different member each, already in the database;
  - `double`: a few members clicking again and again (first click creates, the rest hit ON CONFLICT).
Correctness is checked there too (`check_shares`): right after the last click is answered and again at
the end, every clicking member must have exactly one share row; every share thanked once; nobody told
"something went wrong, nothing was changed" may have a share; every answer a 200 and no error logged.
A failed check is printed and makes the exit code 1. `--profile DIR` writes a cProfile of each server's
measured part (main thread, wall clock). `--flood R` sends R requests a second during the measured
clicks, from one client, to one tracked link (`/r/<code>`), each with a User-Agent of its own — the
flood of issue 9 was 3,231 in 15 s, about 215 a second — and checks that they counted one click at most.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import logging
import math
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlencode

import aiohttp
import httpx
from aiohttp import web
from cryptography.fernet import Fernet
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import SystemClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import signed_headers
from bot.i18n import t
from bot.web import create_app, wait_for_background_work
from handlers.slack.ingress import SlackIngress
from handlers.slack.platform import SLACK_APP_KEY, SLACK_INGRESS_KEY, handle_slack_events
from models import (
    Base,
    Click,
    Dismissal,
    Member,
    Network,
    Platform,
    Post,
    PostState,
    Share,
    SocialAccount,
    SocialAccountStatus,
    TrackedLink,
    Workspace,
)
from tests.benchmarks.report import Figure, Options, median_figure, not_measured
from tests.benchmarks.run import print_table
from tests.fakes.social import FakeLinkedIn

SIGNING_SECRET: Final = "bench-signing-secret"
BOT_TOKEN: Final = "xoxb-bench-token"
TEAM: Final = "T0001"
CHANNEL: Final = "C0NEWS"
ACTION_ID: Final = "open_share_x"
VALUE: Final = "1:x"  # post 1 (the schema is fresh), network X
TARGET_RATIO: Final = 0.7
TARGET_P99_MS: Final = 100.0
THANKS: Final = t("en", "share_recorded", network=t("en", "network_x"))  # the fake's members speak English
SETTLE_LIMIT: Final = 60.0  # at most this long for the work after the acks of a load (target: 10 s)

FLOOD_CODE: Final = "floodfloodflood0"  # the tracked link the flood hits (its member: UFLOOD)
FLOOD_IN_FLIGHT: Final = 50

Kind = Literal["bolt", "relais"]
SCENARIOS: Final = ("new", "known", "double")


# ------------------------------------------------------------------------------------------------------------
# the server process


@dataclass(frozen=True)
class ServerSpec:
    kind: Kind
    database_url: str | None  # relais only
    clicks: tuple[str, ...]  # the clicking user of each click, warm-up first: one response_url each
    known_members: tuple[str, ...] = ()  # members already in the database before the first click
    profile_path: str | None = None  # cProfile the server between "profile-on" and "profile-off"
    flood: bool = False  # a tracked link to flood (relais only)
    action_id: str = ACTION_ID  # the button the bare Bolt app acks
    connected: bool = (
        False  # the known members connected LinkedIn (a FakeLinkedIn runs beside the fake Slack)
    )
    prepare: bool = True  # a fresh schema; False: another server process prepared this database


@dataclass(frozen=True)
class ServerInfo:
    url: str
    response_urls: tuple[str, ...]


@dataclass(frozen=True)
class ServerReport:
    auth_test: int
    users_info: int
    replies: tuple[tuple[str, str], ...]  # (response_url name, text) of each post to a response_url
    errors: int


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def server_main(spec: ServerSpec, connection: Connection) -> None:
    """Entry point of the server process (multiprocessing, spawn)."""
    # Warnings are counted in the answers they lead to ("nothing was changed"); errors are also counted.
    logging.basicConfig(level=logging.ERROR, format="server %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(spec, connection))


async def _serve(spec: ServerSpec, connection: Connection) -> None:
    errors = _ErrorCounter()
    logging.getLogger().addHandler(errors)
    async with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM) as fake, FakeLinkedIn() as linkedin:
        fake.add_channel(CHANNEL, "news")
        for user in sorted(set(spec.clicks)):
            fake.add_user(user, real_name=f"Member {user}", tz="Europe/Paris")
        response_urls = tuple(
            fake.response_url(_url_name(index), channel=CHANNEL, user=user)
            for index, user in enumerate(spec.clicks)
        )
        engine: AsyncEngine | None = None
        if spec.kind == "bolt":
            app = _bare_bolt_app(fake, spec.action_id)
        else:
            assert spec.database_url is not None
            engine = db.create_engine(spec.database_url)
            fernet_key = Fernet.generate_key().decode()
            if spec.prepare:
                tokens = _tokens(linkedin, Fernet(fernet_key), spec.known_members) if spec.connected else {}
                await _prepare_database(engine, spec.known_members, flood=spec.flood, tokens=tokens)
            social: dict[str, Any] = {}
            if spec.connected:
                social = {
                    "encryption_key": fernet_key,
                    "linkedin_client_id": linkedin.client_id,
                    "linkedin_client_secret": linkedin.client_secret,
                    "linkedin_auth_url": linkedin.auth_url,
                    "linkedin_api_url": linkedin.api_url,
                }
            settings = Settings(
                _env_file=None,
                database_url=spec.database_url,
                slack_bot_token=BOT_TOKEN,
                slack_signing_secret=SIGNING_SECRET,
                slack_api_url=fake.api_url,
                public_url="https://relais.example.test",
                log_level="WARNING",
                **social,
            )
            app = create_app(settings, engine=engine, clock=SystemClock())
        runner = web.AppRunner(app, handle_signals=False, access_log=logging.getLogger("relais.access"))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        before = asyncio.all_tasks()
        connection.send(ServerInfo(url=f"http://{host}:{port}", response_urls=response_urls))

        loop = asyncio.get_running_loop()
        profiler = cProfile.Profile() if spec.profile_path else None
        while True:
            command = await loop.run_in_executor(None, connection.recv)
            if command == "cpu":
                connection.send(time.process_time())
            elif command == "stats":
                connection.send((time.process_time(), errors.count))
            elif command == "settle":  # the load just ended: time the work after the acks
                cpu = time.process_time()
                connection.send((cpu, await _settle(fake, before), errors.count))
            elif command == "drain":  # let the work Bolt runs after the acks finish
                await wait_for_background_work(before, seconds=120)
                connection.send("drained")
            elif command == "profile-on" and profiler is not None:
                profiler.enable()
                connection.send("ok")
            elif command == "profile-off" and profiler is not None:
                profiler.disable()
                assert spec.profile_path is not None
                profiler.dump_stats(spec.profile_path)
                connection.send("ok")
            elif command == "stop":
                break
            else:
                connection.send(f"unknown command {command!r}")
        await runner.cleanup()  # waits for after-ack work, then stops the share writer
        if engine is not None:
            await engine.dispose()
        connection.send(
            ServerReport(
                auth_test=len(fake.calls_to("auth.test")),
                users_info=len(fake.calls_to("users.info")),
                replies=tuple((str(r["url_id"]), str(r.get("text"))) for r in fake.responses),
                errors=errors.count,
            )
        )


def _url_name(index: int) -> str:
    return f"click{index:06d}"


def _bare_bolt_app(fake: FakeSlack, action_id: str = ACTION_ID) -> web.Application:
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=False,
    )

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    bolt.action(action_id)(ack_only)
    app = web.Application()
    app[SLACK_APP_KEY] = bolt
    app[SLACK_INGRESS_KEY] = SlackIngress(bolt, SIGNING_SECRET)
    app.router.add_post("/slack/events", handle_slack_events)  # Relais's own handler, unchanged
    return app


async def _settle(fake: FakeSlack, before: set[asyncio.Task[Any]]) -> float:
    """Seconds from now (the end of a load) until the last answer reached the fake's response_url, once
    the work Bolt runs after the acks is done (0 when every answer came before)."""
    loop = asyncio.get_running_loop()
    started, seen, last = loop.time(), len(fake.responses), 0.0

    async def watch() -> None:
        nonlocal seen, last
        while True:
            if len(fake.responses) != seen:
                seen, last = len(fake.responses), loop.time() - started
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    await wait_for_background_work(before | {watcher}, seconds=SETTLE_LIMIT)
    await asyncio.sleep(0.01)  # the answer of the last task to finish
    watcher.cancel()
    waited = loop.time() - started
    return waited if waited >= SETTLE_LIMIT else last  # not done: at least this long


def _tokens(linkedin: FakeLinkedIn, fernet: Fernet, members: Sequence[str]) -> dict[str, str]:
    """A LinkedIn access token of each member (LinkedIn person id = the Slack id), encrypted as stored."""
    return {member: fernet.encrypt(linkedin.issue_token(member).encode()).decode() for member in members}


async def _prepare_database(
    engine: AsyncEngine,
    known_members: Sequence[str],
    *,
    flood: bool = False,
    tokens: dict[str, str] | None = None,
) -> None:
    """A fresh schema, the workspace, one published post (id 1) on both networks, the known members
    (with a LinkedIn connection for those with an encrypted token in `tokens`), and with `flood` a member
    UFLOOD's tracked link `FLOOD_CODE`."""
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)
        workspace_id = await connection.scalar(
            insert(Workspace)
            .values(
                platform=Platform.SLACK,
                external_id=TEAM,
                name="Acme",
                settings={},
                created_at=now,
                updated_at=now,
            )
            .returning(Workspace.id)
        )
        post_id = await connection.scalar(
            insert(Post)
            .values(
                workspace_id=workspace_id,
                url="https://acme.example/news/round",
                title="Acme raises & grows",
                captions=["We raised!", "Proud of the team", "Big news at Acme"],
                networks=["linkedin", "x"],
                channels=[CHANNEL],
                state=PostState.PUBLISHED,
                publish_at=now,
                published_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(Post.id)
        )
        assert post_id == int(VALUE.split(":")[0])
        if known_members:
            rows = [
                {"workspace_id": workspace_id, "external_id": user, "created_at": now, "updated_at": now}
                for user in known_members
            ]
            await connection.execute(insert(Member), rows)
        if tokens:
            ids = dict((await connection.execute(select(Member.external_id, Member.id))).tuples().all())
            accounts = [
                {
                    "workspace_id": workspace_id,
                    "member_id": ids[member],
                    "network": Network.LINKEDIN,
                    "external_person_id": member,
                    "access_token_encrypted": token,
                    "expires_at": now + timedelta(days=60),
                    "scopes": "openid profile email w_member_social",
                    "status": SocialAccountStatus.CONNECTED,
                    "created_at": now,
                    "updated_at": now,
                }
                for member, token in tokens.items()
            ]
            await connection.execute(insert(SocialAccount), accounts)
        if flood:
            member_id = await connection.scalar(
                insert(Member)
                .values(workspace_id=workspace_id, external_id="UFLOOD", created_at=now, updated_at=now)
                .returning(Member.id)
            )
            link = {
                "post_id": post_id,
                "member_id": member_id,
                "network": Network.X,
                "code": FLOOD_CODE,
                "created_at": now,
            }
            await connection.execute(insert(TrackedLink).values(workspace_id=workspace_id, **link))


# ------------------------------------------------------------------------------------------------------------
# the load generator (this process)


@dataclass
class RunResult:
    name: str
    latencies: list[float]  # seconds, one per measured click
    wall: float
    statuses: Counter[int]
    client_cpu: float
    server_cpu: float
    checks: list[str] = field(default_factory=list)  # what was verified, for the report
    failures: list[str] = field(default_factory=list)  # correctness failures (never speed)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Server:
    """A server process and its control pipe."""

    def __init__(self, spec: ServerSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=server_main, args=(spec, child), daemon=True)
        self._process.start()
        child.close()
        info = self._receive(timeout=120)
        assert isinstance(info, ServerInfo)
        self.info = info

    def _receive(self, timeout: float) -> Any:
        if not self._connection.poll(timeout):
            self._process.kill()
            raise RuntimeError(f"the server process did not answer within {timeout:.0f}s")
        return self._connection.recv()

    def ask(self, command: str, timeout: float = 180) -> Any:
        self.send(command)
        return self._receive(timeout)

    def send(self, command: str) -> None:
        self._connection.send(command)

    def receive(self, timeout: float = 180) -> Any:
        return self._receive(timeout)

    def stop(self) -> ServerReport:
        report = self.ask("stop")
        assert isinstance(report, ServerReport)
        self._process.join(30)
        return report

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


def click_request(
    user: str, response_url: str, action_id: str = ACTION_ID, value: str = VALUE
) -> tuple[bytes, dict[str, str]]:
    """A signed `block_actions` click (by default on "Open my share link on X"), form-encoded as Slack
    sends it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "1764200000.000100", "channel_id": CHANNEL,
                      "is_ephemeral": True},
        "trigger_id": "1111.2222.trigger",
        "team": {"id": TEAM, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "news"},
        "response_url": response_url,
        "actions": [{
            "action_id": action_id,
            "block_id": "b",
            "text": {"type": "plain_text", "text": "Open my share link"},
            "value": value,
            "type": "button",
            "url": "https://x.com/intent/post",
            "action_ts": "1764200000.000200",
        }],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, signed_headers(SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded")


Poster = Callable[[bytes, dict[str, str]], Awaitable[int]]


async def fire(
    post: Poster, requests: Sequence[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[list[float], float, Counter[int]]:
    """Send every request with `concurrency` in flight; returns the latencies, the wall time, statuses
    (0 for a connection error)."""
    pending = iter(requests)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def worker() -> None:
        for body, headers in pending:
            started = time.perf_counter()
            try:
                status = await post(body, headers)
            except (aiohttp.ClientError, httpx.HTTPError, TimeoutError):
                statuses[0] += 1
                continue
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, statuses


@asynccontextmanager
async def load_client(kind: str, base_url: str, concurrency: int) -> AsyncIterator[Poster]:
    """A keep-alive HTTP client with `concurrency` connections, as a function posting to /slack/events.

    aiohttp by default: httpx 0.28 on httpcore 1.0.9 spends most of its CPU in its connection pool's
    bookkeeping at 50 connections (encode/httpcore#1035) and tops out near 270 requests/s here, so it
    would measure itself rather than the server; `--client httpx` shows it."""
    url = f"{base_url}/slack/events"
    timeout = 30.0
    if kind == "httpx":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

            async def post_httpx(body: bytes, headers: dict[str, str]) -> int:
                return (await client.post(url, content=body, headers=headers)).status_code

            yield post_httpx
        return
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:

        async def post_aiohttp(body: bytes, headers: dict[str, str]) -> int:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status

        yield post_aiohttp


@asynccontextmanager
async def flooding(base_url: str, per_second: int) -> AsyncIterator[Counter[int]]:
    """GETs of `/r/FLOOD_CODE` at `per_second` for as long as the block runs (at most `FLOOD_IN_FLIGHT`
    at once), each with its own User-Agent, from one client address; yields the statuses."""
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    slots = asyncio.Semaphore(FLOOD_IN_FLIGHT)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=FLOOD_IN_FLIGHT), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:

        async def one(n: int) -> None:
            headers = {"User-Agent": f"Mozilla/5.0 (flood {n}) Firefox/{n}.0"}
            try:
                async with session.get(
                    f"{base_url}/r/{FLOOD_CODE}", headers=headers, allow_redirects=False
                ) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] += 1
            finally:
                slots.release()

        async def pace() -> None:
            tasks: set[asyncio.Task[None]] = set()
            n, next_at = 0, loop.time()
            while not stop.is_set():
                await slots.acquire()
                task = asyncio.create_task(one(n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n, next_at = n + 1, next_at + 1 / per_second
                await asyncio.sleep(max(0.0, next_at - loop.time()))
            await asyncio.gather(*tasks)

        pacer = asyncio.create_task(pace())
        try:
            yield statuses
        finally:
            stop.set()
            await pacer


async def flood_clicks(database_url: str) -> int:
    """Clicks counted for the flooded link."""
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).select_from(Click).join(TrackedLink, TrackedLink.id == Click.link_id)
            return int(await connection.scalar(query.where(TrackedLink.code == FLOOD_CODE)) or 0)
    finally:
        await engine.dispose()


async def run(
    name: str,
    spec: ServerSpec,
    *,
    warmup: int,
    concurrency: int,
    client: str,
    database_url: str | None = None,
    flood: int = 0,
) -> RunResult:
    server = Server(spec)
    try:
        urls = server.info.response_urls
        requests = [click_request(user, url) for user, url in zip(spec.clicks, urls, strict=True)]
        async with load_client(client, server.info.url, concurrency) as post:
            await fire(post, requests[:warmup], concurrency)
            server.ask("drain")
            if spec.profile_path:
                server.ask("profile-on")
            server_cpu, client_cpu = server.ask("cpu"), time.process_time()
            async with AsyncExitStack() as stack:
                flooded = await stack.enter_async_context(flooding(server.info.url, flood)) if flood else None
                latencies, wall, statuses = await fire(post, requests[warmup:], concurrency)
            server_cpu, client_cpu = server.ask("cpu") - server_cpu, time.process_time() - client_cpu
            if spec.profile_path:
                server.ask("profile-off")
        if not latencies:
            raise RuntimeError(f"{name}: no click was answered ({dict(statuses)})")
        result = RunResult(name, latencies, wall, statuses, client_cpu, server_cpu)
        if flooded is not None and database_url is not None:
            counted = await flood_clicks(database_url)
            result.checks.append(
                f"flood of /r/: {sum(flooded.values())} requests {dict(flooded)}, {counted} counted"
            )
            if counted > 1 or set(flooded) - {302, 429}:
                result.failures.append(f"the flood counted {counted} clicks, answers {dict(flooded)}")
        if sum(count for status, count in statuses.items() if status != 200):
            result.failures.append(f"answers other than 200: {dict(statuses)}")
        # Right after the last answer, before the server drains or stops: every click answered must be
        # on disk already.
        acked = await members_with_a_share(database_url) if database_url is not None else set()
        report = server.stop()
        if report.errors:
            result.failures.append(f"{report.errors} errors logged by the server")
        if database_url is not None:
            check_shares(result, spec.clicks, report, acked, await members_with_a_share(database_url))
        return result
    finally:
        server.kill()


async def members_with_a_share(database_url: str) -> set[str]:
    """The Slack user ids that have a share row (one per member: the benchmark uses a single post)."""
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = select(Member.external_id).join(Share, Share.member_id == Member.id)
            rows = (await connection.execute(query)).scalars().all()
    finally:
        await engine.dispose()
    if len(rows) != len(set(rows)):
        raise AssertionError("a member has two share rows for the same post and network")
    return set(rows)


def check_shares(
    result: RunResult, clicks: Sequence[str], report: ServerReport, acked: set[str], final: set[str]
) -> None:
    """Exactly once, durable before the answer, and told the truth: every clicking member has one share
    row, already there when the last click was answered; thanked members have a share; a member told
    that something went wrong (and nothing was changed) has none."""
    members = set(clicks)
    user_of = {_url_name(index): user for index, user in enumerate(clicks)}
    thanked = {user_of[name] for name, text in report.replies if text == THANKS}
    other = Counter(text for _, text in report.replies if text != THANKS)
    refused_only = {user_of[name] for name, text in report.replies if text != THANKS} - thanked
    result.checks.append(
        f"share rows: {len(acked)} right after the last answer, {len(final)} in the end, "
        f"for {len(members)} clicking members; after the acks: {report.users_info} users.info, "
        f"{len(thanked)} thanked" + (f", other replies {dict(other)}" if other else "")
    )
    if missing := members - final:
        result.failures.append(
            f"{len(missing)} clicking members have no share row "
            f"({len(missing & refused_only)} of them were told something went wrong)"
        )
    if late := final - acked:
        result.failures.append(f"{len(late)} shares were committed after the last click was answered")
    if unthanked := final - thanked:
        result.failures.append(f"{len(unthanked)} shares were not thanked")
    if contradicted := final & refused_only:
        result.failures.append(
            f"{len(contradicted)} members were told that something went wrong and nothing was changed, "
            "but their share was recorded"
        )
    if len(thanked) != sum(1 for _, text in report.replies if text == THANKS):
        result.failures.append("a member was thanked twice")


def clicks_for(scenario: str, clicks: int, warmup: int, few: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the user of each click, warm-up first; the members already in the database)."""
    warm = tuple(f"UWARM{i:05d}" for i in range(warmup))
    if scenario == "double":
        return warm + tuple(f"UFEW{i % few:04d}" for i in range(clicks)), ()
    measured = tuple(f"U{i:06d}" for i in range(clicks))
    return warm + measured, (measured if scenario == "known" else ())


def report_line(result: RunResult, baseline: RunResult | None) -> str:
    errors = sum(count for status, count in result.statuses.items() if status != 200)
    ratio = f"{result.throughput / baseline.throughput:5.2f}x" if baseline is not None else "     -"
    return (
        f"{result.name:<22} {len(result.latencies):>6} {result.throughput:>9.0f} {ratio:>6} "
        f"{result.percentile_ms(50):>7.1f} {result.percentile_ms(95):>7.1f} {result.percentile_ms(99):>7.1f} "
        f"{1000 * max(result.latencies):>7.1f} {errors:>6} "
        f"{100 * result.server_cpu / result.wall:>6.0f}% {100 * result.client_cpu / result.wall:>6.0f}% "
        f"{1000 * result.server_cpu / len(result.latencies):>8.2f}"
    )


HEADER: Final = (
    f"{'run':<22} {'clicks':>6} {'clicks/s':>9} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>7} {'errors':>6} {'server':>7} {'client':>7} {'srv ms/click':>8}"
)


# ------------------------------------------------------------------------------------------------------------
# the figures of `python3 dev.py bench` (issue 13, targets 1 and 2): `measure(options)`

GROUP: Final = "share click"
CONCURRENCIES: Final = (50, 200)
P99_CONCURRENCY: Final = 50  # the p99 target holds at 50 concurrent; at 200 it is shown for context
AFTER_ACK_TARGET: Final = 10.0
TWO_PROCESSES_TARGET: Final = 1.3
NOTHING_CHANGED: Final = t("en", "something_went_wrong")
HEADROOM: Final = 1.5  # members prepared for a load: the bare app's best rate x its seconds x this
BASELINE_REQUESTS: Final = 2000  # the bare app acks without looking: its clicks are sent round and round
MembersKind = Literal["first", "known"]
KIND_NAMES: Final[dict[MembersKind, str]] = {"first": "first contacts", "known": "known members"}


@dataclass(frozen=True)
class Button:
    """A button that records something before the ack: `recorded`, the row each click leaves (one per
    member, the benchmark has a single post); `connected`: its members connected LinkedIn."""

    name: str
    action_id: str
    value: str
    recorded: type[Share] | type[Dismissal]
    kinds: tuple[MembersKind, ...]
    connected: bool = False


OPEN_LINK: Final = Button("open link", "open_share_x", "1:x", Share, ("first", "known"))
BUTTONS: Final = (
    OPEN_LINK,
    # A first contact has not connected LinkedIn: only members Relais knows can claim an API post.
    Button("share, connected", "share_linkedin", "1", Share, ("known",), connected=True),
    Button("not for me", "not_for_me", "1", Dismissal, ("first", "known")),
)


@dataclass(frozen=True)
class Sizes:
    seconds: float  # each measured load lasts this long (clicks in flight then are finished)
    warmup: int  # clicks before the first measured load of a server

    @classmethod
    def of(cls, options: Options) -> Sizes:
        return cls(2.0, 100) if options.quick else cls(10.0, 300)


Request = tuple[int, int, bytes, dict[str, str]]  # (server, click index on it, body, headers)


@dataclass
class Load:
    """What one measured load got: `acked`, the (server, click index) of each 200."""

    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    acked: list[tuple[int, int]] = field(default_factory=list)
    wall: float = 0.0
    exhausted: bool = False  # ran out of prepared members before its time was up

    @property
    def throughput(self) -> float:
        return len(self.acked) / self.wall if self.wall else 0.0

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] if ordered else math.inf


async def fire_for(
    posters: Sequence[Poster], requests: Iterator[Request], concurrency: int, seconds: float
) -> Load:
    """`concurrency` clicks in flight for `seconds` (then the ones in flight finish), each to its server."""
    load = Load(concurrency)
    end = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < end:
            request = next(requests, None)
            if request is None:
                load.exhausted = True
                return
            server, index, body, headers = request
            started = time.perf_counter()
            try:
                status = await posters[server](body, headers)
            except (aiohttp.ClientError, TimeoutError):
                load.statuses[0] += 1
                continue
            load.latencies.append(time.perf_counter() - started)
            load.statuses[status] += 1
            if status == 200:
                load.acked.append((server, index))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.wall = time.perf_counter() - started
    return load


@dataclass
class Measured:
    """A measured load on Relais and its checks (counts of violations)."""

    load: Load
    after_ack: float = 0.0  # seconds from the end of the load to the last answer
    errors: int = 0  # non-200 answers + "nothing was changed" answers + errors logged by the servers
    unanswered: int = 0  # acked clicks not answered exactly once
    not_durable: int = 0  # acked members without their row right after the load (or with two)
    contradicted: int = 0  # members told that nothing was changed, whose row was recorded
    answers: Counter[str] = field(default_factory=Counter)  # the texts the acked members got, for the log
    server_cpu: float = 0.0  # CPU seconds of the server processes during the load (not after it)


@asynccontextmanager
async def servers(
    specs: Sequence[ServerSpec], concurrency: int
) -> AsyncIterator[tuple[list[Server], list[Poster]]]:
    """The servers (started one after the other: the first prepares the database) and a client to each."""
    started: list[Server] = []
    try:
        for spec in specs:
            started.append(Server(spec))
        async with AsyncExitStack() as stack:
            posters = [
                await stack.enter_async_context(load_client("aiohttp", server.info.url, concurrency))
                for server in started
            ]
            yield started, posters
    finally:
        for server in started:
            server.kill()


VALUES: Final = {button.action_id: button.value for button in BUTTONS}


def requests_for(servers_: Sequence[Server], specs: Sequence[ServerSpec], indices: range) -> list[Request]:
    """The clicks `indices` of every server, round-robin between the servers, built and signed now."""
    return [
        (number, index, *_click(server, spec, index))
        for index in indices
        for number, (server, spec) in enumerate(zip(servers_, specs, strict=True))
    ]


def _click(server: Server, spec: ServerSpec, index: int) -> tuple[bytes, dict[str, str]]:
    user, response_url = spec.clicks[index], server.info.response_urls[index]
    return click_request(user, response_url, spec.action_id, VALUES[spec.action_id])


async def warm_up(
    servers_: Sequence[Server], specs: Sequence[ServerSpec], posters: Sequence[Poster], sizes: Sizes
) -> None:
    requests = requests_for(servers_, specs, range(sizes.warmup))
    await fire_for(posters, iter(requests), 50, seconds=300)
    for server in servers_:
        server.ask("drain")


async def baseline(action_id: str, sizes: Sizes) -> dict[int, Load]:
    """The bare Bolt app that only acks `action_id`, under each concurrency."""
    users = tuple(f"UBASE{index:06d}" for index in range(BASELINE_REQUESTS))
    spec = ServerSpec(kind="bolt", database_url=None, clicks=users, action_id=action_id)
    loads: dict[int, Load] = {}
    async with servers([spec], max(CONCURRENCIES)) as (started, posters):
        await warm_up(started, [spec], posters, sizes)
        requests = requests_for(started, [spec], range(len(users)))
        for concurrency in CONCURRENCIES:
            loads[concurrency] = await fire_for(
                posters, itertools.cycle(requests), concurrency, sizes.seconds
            )
        for server in started:
            server.stop()
    return loads


async def relais_loads(
    button: Button, kind: MembersKind, url: str, sizes: Sizes, pools: dict[int, int], *, processes: int = 1
) -> dict[int, Measured]:
    """Relais (`processes` server processes on the database `url`) under each concurrency, a load of
    `pools[concurrency]` prepared members at most (distinct members, never clicked before)."""
    assert processes == 1 or not button.connected, "the LinkedIn tokens live in the first server's fake"
    phases, first = {}, sizes.warmup
    for concurrency in CONCURRENCIES:
        phases[concurrency] = range(first, first + pools[concurrency])
        first += pools[concurrency]
    users = [tuple(f"U{number}{index:07d}" for index in range(first)) for number in range(processes)]
    specs = [
        ServerSpec(
            kind="relais",
            database_url=url,
            clicks=users[number],
            known_members=tuple(itertools.chain(*users)) if kind == "known" and number == 0 else (),
            action_id=button.action_id,
            connected=button.connected,
            prepare=number == 0,
        )
        for number in range(processes)
    ]
    measured: dict[int, Measured] = {}
    recorded: dict[int, Counter[str]] = {}
    async with servers(specs, max(CONCURRENCIES)) as (started, posters):
        await warm_up(started, specs, posters, sizes)
        for concurrency, indices in phases.items():
            requests = requests_for(started, specs, indices)
            before = [server.ask("stats") for server in started]
            load = await fire_for(posters, iter(requests), concurrency, sizes.seconds)
            for server in started:
                server.send("settle")
            recorded[concurrency] = await recorded_members(url, button.recorded)  # right after the last ack
            settled = [server.receive() for server in started]
            measured[concurrency] = Measured(
                load,
                after_ack=max(after for _, after, _ in settled),
                errors=sum(errors for _, _, errors in settled) - sum(errors for _, errors in before),
                server_cpu=sum(cpu for cpu, _, _ in settled) - sum(cpu for cpu, _ in before),
            )
        reports = [server.stop() for server in started]
    final = await recorded_members(url, button.recorded)
    for concurrency, result in measured.items():
        _check(result, users, reports, recorded[concurrency], final)
    return measured


def _check(
    result: Measured,
    users: Sequence[Sequence[str]],
    reports: Sequence[ServerReport],
    at_end: Counter[str],
    final: Counter[str],
) -> None:
    """Answered exactly once, durable before the ack, told the truth; non-200s and refusals are errors."""
    answers = [Counter(name for name, _ in report.replies) for report in reports]
    refusals = [{name for name, text in report.replies if text == NOTHING_CHANGED} for report in reports]
    acked = [(users[server][index], _url_name(index), server) for server, index in result.load.acked]
    refused = {member for member, name, server in acked if name in refusals[server]}
    result.unanswered = sum(1 for _, name, server in acked if answers[server][name] != 1)
    names = {(server, name) for _, name, server in acked}
    result.answers = Counter(
        text[:40]
        for server, report in enumerate(reports)
        for name, text in report.replies
        if (server, name) in names
    )
    result.not_durable = sum(1 for member, _, _ in acked if member not in refused and at_end[member] != 1)
    result.not_durable += sum(1 for count in final.values() if count > 1)
    result.contradicted = sum(1 for member in refused if final[member])
    result.errors += sum(count for status, count in result.load.statuses.items() if status != 200) + len(
        refused
    )


async def recorded_members(database_url: str, row: type[Share] | type[Dismissal]) -> Counter[str]:
    """How many `row`s each Slack user id has (the benchmark has one post: one at most is right)."""
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = select(Member.external_id).join(row, row.member_id == Member.id)
            return Counter((await connection.execute(query)).scalars().all())
    finally:
        await engine.dispose()


# -- the figures ---------------------------------------------------------------------------------------

Key = tuple[str, MembersKind, int, str]  # (button, members, concurrency, database)


def measure(options: Options) -> list[Figure]:
    """Targets 1 and 2 of issue 13, each measurement run `options.repeats` times (medians; correctness
    counts: the worst run)."""
    return asyncio.run(_measure(options))


async def _measure(options: Options) -> list[Figure]:
    sizes = Sizes.of(options)
    print(
        f"share click: loads of {sizes.seconds:g} s after {sizes.warmup} warm-up clicks; each server in a "
        "process of its own with its fakes; the load generator (this process) shares the machine",
        flush=True,
    )
    databases = {"SQLite": "", "PostgreSQL": options.postgres_url or ""}
    bases: dict[tuple[str, int], list[Load]] = {}
    results: dict[Key, list[Measured]] = {}
    two: dict[int, list[Measured]] = {}
    files = itertools.count()
    for repeat in range(1, options.repeats + 1):
        for database, url in databases.items():
            if database == "PostgreSQL" and not url:
                continue
            base = await baseline(ACTION_ID, sizes)
            for concurrency, load in base.items():
                bases.setdefault((database, concurrency), []).append(load)
                _progress(repeat, f"bare Bolt, {concurrency} concurrent", load)
            pools = members_per_load(base.values(), sizes)
            for button in BUTTONS:
                for kind in button.kinds:
                    where = url or f"sqlite:///{options.work_dir / f'share-click-{next(files)}.db'}"
                    loads = await relais_loads(button, kind, db.normalize_database_url(where), sizes, pools)
                    for concurrency, result in loads.items():
                        results.setdefault((button.name, kind, concurrency, database), []).append(result)
                        label = f"{button.name}, {KIND_NAMES[kind]}, {concurrency} concurrent, {database}"
                        _progress(repeat, label, result.load, base[concurrency], result)
            if database == "PostgreSQL":
                loads = await relais_loads(
                    OPEN_LINK, "first", db.normalize_database_url(url), sizes, pools, processes=2
                )
                for concurrency, result in loads.items():
                    two.setdefault(concurrency, []).append(result)
                    label = f"{OPEN_LINK.name}, first contacts, {concurrency} concurrent, two processes"
                    _progress(repeat, label, result.load, base[concurrency], result)
    figures = [
        median_figure(
            GROUP,
            f"bare Bolt (ack only), {concurrency} concurrent, {database} pass: throughput",
            [load.throughput for load in loads],
            "/s",
        )
        for (database, concurrency), loads in bases.items()
    ]
    for key, runs in results.items():
        figures.extend(_figures(key, runs, bases[(key[3], key[2])]))
    if options.postgres_url is None:
        figures.append(
            not_measured(GROUP, "every figure on PostgreSQL (targets 1 and 2)", "", "", NO_POSTGRES)
        )
    for concurrency, runs in two.items():
        one = results[(OPEN_LINK.name, "first", concurrency, "PostgreSQL")]
        name = f"{OPEN_LINK.name}, first contacts, {concurrency} concurrent, PostgreSQL, two processes"
        ratios = [
            pair.load.throughput / single.load.throughput for pair, single in zip(runs, one, strict=True)
        ]
        figures.append(
            median_figure(
                GROUP,
                f"{name}: throughput vs one process",
                ratios,
                "×",
                comparison=">=",
                bound=TWO_PROCESSES_TARGET,
            )
        )
        figures.append(_worst(f"{name}: errors", [m.errors for m in runs]))
        figures.append(
            _worst(f"{name}: shares not exactly once", [m.not_durable + m.contradicted for m in runs])
        )
    return figures


NO_POSTGRES: Final = (
    "no PostgreSQL database given: pass --postgres URL or set RELAIS_BENCH_DATABASE_URL (a database of "
    "your own: its tables are dropped and recreated)"
)


def members_per_load(bases: Iterable[Load], sizes: Sizes) -> dict[int, int]:
    """How many members to prepare for each load: more than Relais can take in its seconds (it is not
    faster than the bare app), from the bare app's best rate, which a busy machine may have slowed."""
    best = max(load.throughput for load in bases)
    members = max(1000, math.ceil(best * sizes.seconds * HEADROOM))
    return dict.fromkeys(CONCURRENCIES, members)


def _figures(key: Key, runs: Sequence[Measured], bases: Sequence[Load]) -> list[Figure]:
    button, kind, concurrency, database = key
    name = f"{button}, {KIND_NAMES[kind]}, {concurrency} concurrent, {database}"
    ratios = [m.load.throughput / base.throughput for m, base in zip(runs, bases, strict=True)]
    short = [f"run {n}: {m.load.wall:.1f} s" for n, m in enumerate(runs, 1) if m.load.exhausted]
    note = f"ran out of prepared members ({', '.join(short)})" if short else ""
    p99 = [m.load.p99_ms() for m in runs]
    return [
        median_figure(
            GROUP,
            f"{name}: throughput vs bare Bolt",
            ratios,
            "×",
            comparison=">=",
            bound=TARGET_RATIO,
            note=note,
        ),
        median_figure(GROUP, f"{name}: p99", p99, "ms", comparison="<=", bound=TARGET_P99_MS)
        if concurrency == P99_CONCURRENCY
        else median_figure(GROUP, f"{name}: p99", p99, "ms"),
        _worst(f"{name}: errors", [m.errors for m in runs]),
        median_figure(
            GROUP,
            f"{name}: after-ack work done, s after the load",
            [m.after_ack for m in runs],
            "s",
            comparison="<=",
            bound=AFTER_ACK_TARGET,
        ),
        _worst(f"{name}: acked clicks not answered exactly once", [m.unanswered for m in runs]),
        _worst(f"{name}: acked but not recorded right after the load", [m.not_durable for m in runs]),
        _worst(f"{name}: told nothing was changed, yet recorded", [m.contradicted for m in runs]),
    ]


def _worst(name: str, runs: Sequence[int]) -> Figure:
    """A correctness count: its worst run is the figure (one violation in one run is a violation)."""
    figure = median_figure(GROUP, f"{name} (worst run)", runs, "count", comparison="==", bound=0)
    return replace(figure, value=float(max(runs)), target="= 0", passed=max(runs) == 0)


def _progress(
    repeat: int, label: str, load: Load, base: Load | None = None, result: Measured | None = None
) -> None:
    ratio = f", {load.throughput / base.throughput:.2f}× bare Bolt" if base is not None else ""
    checks = ""
    if result is not None:
        cpu = 1000 * result.server_cpu / max(1, len(load.acked))
        checks = (
            f", server CPU {cpu:.2f} ms/click"
            f", errors {result.errors}, last answer {result.after_ack:.1f} s after the load, "
            f"not answered once {result.unanswered}, not durable {result.not_durable}, "
            f"told nothing changed yet recorded {result.contradicted}"
        )
        if result.unanswered or result.not_durable or result.errors or result.contradicted:
            checks += f"; answers: {dict(result.answers.most_common(4))}"
    print(
        f"run {repeat}: {label}: {len(load.acked)} clicks in {load.wall:.1f} s, "
        f"{load.throughput:,.0f}/s{ratio}, p99 {load.p99_ms():.0f} ms{checks}",
        flush=True,
    )


def parse_arguments(arguments: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_share_click", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 s loads: checks it works (figures not to quote)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also on this PostgreSQL (its tables are DROPPED and recreated); default: SQLite only",
    )
    parser.add_argument(
        "--detailed",
        action="store_true",
        help="instead of the figures: docs/benchmarks.md's runs of a number of clicks (the options below)",
    )
    parser.add_argument("--clicks", type=int, default=3000, help="measured clicks per run (default 3000)")
    parser.add_argument("--concurrency", type=int, default=50, help="clicks in flight at once (default 50)")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up clicks per run (default 300)")
    parser.add_argument(
        "--database-url",
        help="run Relais on this PostgreSQL (its tables are DROPPED and recreated); default: a temporary "
        "SQLite file",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda value: [s.strip() for s in value.split(",") if s.strip()],
        default=list(SCENARIOS),
        help="Relais runs, comma-separated among new, known, double (default: all three)",
    )
    parser.add_argument("--few", type=int, default=20, help="members who click in the double run (20)")
    parser.add_argument(
        "--client", choices=("aiohttp", "httpx"), default="aiohttp", help="load generator (default aiohttp)"
    )
    parser.add_argument(
        "--flood",
        type=int,
        default=0,
        metavar="R",
        help="meanwhile, R requests a second to one /r/<code>, each its own User-Agent (0: none)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="write a cProfile of each server's measured part to DIR"
    )
    options = parser.parse_args(arguments)
    if unknown := set(options.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if options.profile is not None:
        options.profile = options.profile.resolve()
        options.profile.mkdir(parents=True, exist_ok=True)
    return options


async def bench(options: argparse.Namespace, folder: Path) -> int:
    """Run the baseline then each Relais scenario; print the table, the verdicts and any correctness
    failure. Returns the exit code: 1 if a correctness check failed (never for speed)."""

    def profile(name: str) -> str | None:
        return str(options.profile / f"{name}.prof") if options.profile is not None else None

    database = "PostgreSQL" if options.database_url else "SQLite"
    print(
        f"share click ({ACTION_ID}): {options.clicks} clicks after {options.warmup} warm-up, "
        f"{options.concurrency} in flight, {options.client} client; Relais on {database}"
        + (f"; meanwhile a flood of {options.flood} requests/s on one /r/<code>" if options.flood else "")
    )
    print(
        f"target: >= {TARGET_RATIO}x the bare Bolt throughput and p99 <= {TARGET_P99_MS:.0f} ms; "
        "server, client: CPU time over the measured part, % of one core; srv ms/click: server CPU per click"
    )
    print(HEADER)
    users, _ = clicks_for("new", options.clicks, options.warmup, options.few)
    baseline = await run(
        "bolt (ack only)",
        ServerSpec(kind="bolt", database_url=None, clicks=users, profile_path=profile("bolt")),
        warmup=options.warmup,
        concurrency=options.concurrency,
        client=options.client,
    )
    print(report_line(baseline, None), flush=True)
    results: list[RunResult] = []
    for scenario in options.scenarios:
        raw_url = options.database_url or f"sqlite:///{folder / f'{scenario}.db'}"
        url = db.normalize_database_url(raw_url)
        users, known = clicks_for(scenario, options.clicks, options.warmup, options.few)
        spec = ServerSpec(
            kind="relais",
            database_url=url,
            clicks=users,
            known_members=known,
            profile_path=profile(f"relais-{scenario}"),
            flood=options.flood > 0,
        )
        result = await run(
            f"relais {scenario}",
            spec,
            warmup=options.warmup,
            concurrency=options.concurrency,
            client=options.client,
            database_url=url,
            flood=options.flood,
        )
        results.append(result)
        print(report_line(result, baseline), flush=True)
    failed = False
    for result in [baseline, *results]:
        if result is not baseline:
            fast = result.throughput >= TARGET_RATIO * baseline.throughput
            meets = fast and result.percentile_ms(99) <= TARGET_P99_MS
            verdict = "meets" if meets else "MISSES"
            print(f"{result.name}: {verdict} the target; " + "; ".join(result.checks))
        for failure in result.failures:
            failed = True
            print(f"{result.name}: CORRECTNESS FAILURE: {failure}")
    return 1 if failed else 0


def main(arguments: Sequence[str] | None = None) -> int:
    options = parse_arguments(arguments)
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        if options.detailed:
            return asyncio.run(bench(options, Path(folder)))
        figures = measure(
            Options(
                repeats=options.repeats,
                quick=options.quick,
                postgres_url=options.postgres,
                work_dir=Path(folder),
            )
        )
    print_table(figures)
    return 1 if any(figure.passed is False for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
