"""Benchmark of the share click (`open_share_x`) against a bare Bolt app that only acks.

    python -m tests.benchmarks.bench_share_click [--clicks N] [--concurrency 50] [--database-url URL]

Not a test (the name keeps pytest away) and it asserts nothing about speed: it prints figures to hold
against the design target — at least 0.7x the throughput of a bare Bolt app that only acks, p99 at most
100 ms at 50 concurrent clicks, with the share durable before the ack, on SQLite and on PostgreSQL.

Each configuration runs its server in a process of its own (spawned), with a FakeSlack inside it (Bolt's
auth.test, Relais's users.info after the ack, the thanks posted to the response_url); this process only
generates load: signed `block_actions` clicks, built and signed beforehand, `concurrency` in flight at
once from one keep-alive client (aiohttp; `--client httpx` for httpx, which cannot keep up, see
`load_client`), each request timed. Runs:

* `bolt`: a bare Bolt `AsyncApp` (same signing secret, `process_before_response=False`) with one
  `open_share_x` listener that only acks, served by `handlers.slack.platform.handle_slack_events` on aiohttp.
* `relais`: the real `bot.web.create_app` on a fresh schema (SQLite: a temporary file; PostgreSQL: the
  database given, whose tables are DROPPED and recreated), one published post, and clicks from
  - `new`: a different member each, on their first contact (the click creates the member row too);
  - `known`: a different member each, already in the database;
  - `double`: a few members clicking again and again (first click creates, the rest hit ON CONFLICT).

Correctness is checked, speed never (`check_shares`): right after the last click is answered (before
the server drains or stops) and again at the end, every clicking member must have exactly one share row;
once the after-ack work is done every share must have been thanked once, and nobody told "something
went wrong, nothing was changed" may have a share; every answer must be a 200 and no error logged.
A failed check is printed and makes the exit code 1.

`--profile DIR` writes a cProfile of each server's measured part (main thread, wall clock).

`--flood R` sends R requests a second during the measured clicks, from one client, to one tracked link
(`/r/<code>`), each with a User-Agent of its own — the flood of issue 9 was 3,231 in 15 s, about 215 a
second — and checks that they counted one click at most.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import math
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlencode

import aiohttp
import httpx
from aiohttp import web
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
from models import Base, Click, Member, Network, Platform, Post, PostState, Share, TrackedLink, Workspace

SIGNING_SECRET: Final = "bench-signing-secret"
BOT_TOKEN: Final = "xoxb-bench-token"
TEAM: Final = "T0001"
CHANNEL: Final = "C0NEWS"
ACTION_ID: Final = "open_share_x"
VALUE: Final = "1:x"  # post 1 (the schema is fresh), network X
TARGET_RATIO: Final = 0.7
TARGET_P99_MS: Final = 100.0
THANKS: Final = t("en", "share_recorded", network=t("en", "network_x"))  # the fake's members speak English

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
    logging.basicConfig(level=logging.WARNING, format="server %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(spec, connection))


async def _serve(spec: ServerSpec, connection: Connection) -> None:
    errors = _ErrorCounter()
    logging.getLogger().addHandler(errors)
    async with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM) as fake:
        fake.add_channel(CHANNEL, "news")
        for user in sorted(set(spec.clicks)):
            fake.add_user(user, real_name=f"Member {user}", tz="Europe/Paris")
        response_urls = tuple(
            fake.response_url(_url_name(index), channel=CHANNEL, user=user)
            for index, user in enumerate(spec.clicks)
        )
        engine: AsyncEngine | None = None
        if spec.kind == "bolt":
            app = _bare_bolt_app(fake)
        else:
            assert spec.database_url is not None
            engine = db.create_engine(spec.database_url)
            await _prepare_database(engine, spec.known_members, flood=spec.flood)
            settings = Settings(
                _env_file=None,
                database_url=spec.database_url,
                slack_bot_token=BOT_TOKEN,
                slack_signing_secret=SIGNING_SECRET,
                slack_api_url=fake.api_url,
                public_url="https://relais.example.test",
                log_level="WARNING",
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


def _bare_bolt_app(fake: FakeSlack) -> web.Application:
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=False,
    )

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    bolt.action(ACTION_ID)(ack_only)
    app = web.Application()
    app[SLACK_APP_KEY] = bolt
    app[SLACK_INGRESS_KEY] = SlackIngress(bolt, SIGNING_SECRET)
    app.router.add_post("/slack/events", handle_slack_events)  # Relais's own handler, unchanged
    return app


async def _prepare_database(
    engine: AsyncEngine, known_members: Sequence[str], *, flood: bool = False
) -> None:
    """A fresh schema, the workspace, one published post (id 1) on both networks, the known members,
    and with `flood` a member UFLOOD's tracked link `FLOOD_CODE`."""
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
        self._connection.send(command)
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


def click_request(user: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    """A signed `block_actions` click on "Open my share link on X", form-encoded as Slack sends it."""
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
            "action_id": ACTION_ID,
            "block_id": "b",
            "text": {"type": "plain_text", "text": "Open my share link"},
            "value": VALUE,
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


def parse_arguments(arguments: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_share_click", description=__doc__.split("\n\n")[0]
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
        return asyncio.run(bench(options, Path(folder)))


if __name__ == "__main__":
    sys.exit(main())
