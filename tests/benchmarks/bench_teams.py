"""Teams benchmarks (issue 13, the Teams parts of targets 1 and 3): the share click against a bare app that
only checks the Bot Framework's token, and the fan-out through `relais clock` to the fake Bot Connector.

    python -m tests.benchmarks.bench_teams [--quick] [--repeats 3] [--postgres URL] [--only click,fanout]

Not a test (the name keeps pytest away).

Share click ("share click (Teams)"). Each server runs in a process of its own (spawned), with, inside it,
the Bot Framework's OpenID metadata and keys (`tests.fakes.bot_framework.FakeBotFramework`, keys
generated locally) and the fake Bot Connector (`bot.demo.fake_teams.FakeTeams`, where the activities'
`serviceUrl` points). This process only generates load: `adaptiveCard/action` invokes, as Teams sends a
click on an `Action.Execute` button of the post card Relais put in a channel, JSON with `Authorization:
Bearer <JWT>` (RS256, signed by the fake's key for the activity's serviceUrl, one token reused for the
whole run as the Bot Connector reuses its tokens), `CONCURRENCY` (50) in flight at once over keep-alive
connections (aiohttp), for `seconds` (10; quick: 2) after 100 warm-up clicks, every click by a member
who never clicked before, each invoke with an activity id of its own.

* the baseline: a bare aiohttp app whose one route, `POST /api/messages`, reads the JSON, checks the
  token with the very class Relais uses (`handlers.teams.auth.BotFrameworkTokens.identity`: PyJWT,
  RS256, issuer, audience, expiry, the key's endorsements, `serviceurl` = the activity's serviceUrl, keys
  from the same local OpenID metadata) and answers 200 with an empty body (401 on a bad token). It is
  the Teams equivalent of "a bare Bolt app that only acks": the least any bot must do for an invoke;
* Relais: the real `bot.web.create_app`, Teams only (its Agents SDK adapter, `TeamsPlatform`, the bot's
  outbound token fixed as in the tests: Microsoft Entra ID is out of reach), on a fresh schema (SQLite: a
  temporary file; PostgreSQL: the database given, whose tables are DROPPED and recreated) with the
  tenant's workspace and one published post.

Buttons: Share on X (`share_x`, a member who did not connect X: the member and their personal share link
are recorded before the answer, which carries the link; the share itself is counted when the link is
opened, a web request and not a Teams click) and Not for me (`not_for_me`: the dismissal recorded before
the answer). On first contacts (no member row yet) and known members (in the database), on SQLite and
PostgreSQL. Figures per load: throughput against the bare app's (≥ 0.7×), p99 (≤ 100 ms at 50
concurrent), errors (non-200s, invoke answers of the error type or a status other than 200, errors logged
by the server; = 0), acked members without their row right after the load (the link or the dismissal:
durable before the answer; = 0), members whose row is not there exactly once at the end (= 0). Share on
LinkedIn with a connected account (the API post claimed before the answer) is not measured here.

Fan-out ("fan-out (Teams)"). `relais clock` as a process, configured for Teams only (anonymous mode, the
Agents Playground's way, as tests/handlers/teams/test_clock.py runs it: no Slack setting, no bot
credentials) on a fresh database, delivering to the fake Bot Connector in this process, which enforces
Teams' documented limits (per bot per conversation 7 in 1 s, 8 in 2 s, 60 in 30 s, 1,800 an hour; 50
requests a second per app per tenant) and refuses 2 % of the messages at random with 429 and
`Retry-After: 1` (seeded). Two fan-outs, each measured from the first request the fake accepts to the
last:

* push: `posts` posts due at once (10; quick 3), each pushed to the team's `CHANNELS` (20) channels;
* nudges: the weekly nudge round to `members` members (5,000; quick 300), known from the team's roster
  only (the reference stored when Relais was installed in the team), so each nudge first opens the
  member's 1:1 chat (`POST v3/conversations`) and then sends in it: two requests.

Figures: the achieved rate against the allowed rate (≥ 0.9×), lost (= 0) and duplicated (= 0) messages,
counted per destination at the fake. The allowed span is the least the fake's limits allow for the
requests it accepted, in the order it accepted them (each placed at the earliest moment the sliding
windows admit it), or, if later, the last random 429 plus its Retry-After. The nudge round is sent in
its members' working hours (the workspace's time zone is chosen for it, as in bench_fanout): from
Saturday 12:00 to Sunday 19:00 UTC no time zone is, and the nudge figures are not measured.

How long (2 cores shared with other work, 2026-11-29): a quick run with one repeat takes about 2 minutes on
SQLite alone and 5 to 6 with PostgreSQL. A full run is, per repeat and database, a bare-app load and 4
Relais loads of 10 s, each server started, prepared and warmed up (about 2 minutes in all), then the push
(200 requests, about 15 s after `relais migrate`) and the nudge round (5,000 members, 10,000 requests at
Relais's 40 a second: about 4.5 minutes): about 7 minutes per repeat on SQLite, 14 with PostgreSQL, so
about 45 minutes for the default 3 repeats with PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import multiprocessing
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import SystemClock
from bot.config import Settings
from bot.demo.fake_teams import CONVERSATION_LIMITS, CREATE, TENANT_LIMIT, FakeTeams
from bot.web import create_app, wait_for_background_work
from handlers.teams.auth import BotFrameworkTokens
from handlers.teams.notifier import TEAMS_TENANT_RATE
from handlers.teams.platform import TeamsPlatform
from models import (
    Base,
    ConversationRef,
    Dismissal,
    Member,
    OutboxMessage,
    OutboxState,
    Platform,
    Post,
    PostState,
    TrackedLink,
    Workspace,
)
from tests.benchmarks.bench_fanout import working_zone
from tests.benchmarks.report import Figure, Options, median_figure, not_measured
from tests.benchmarks.run import print_table
from tests.benchmarks.serving import environment, migrate, percentile
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import APP_ID, APP_PASSWORD, OUTBOUND_TOKEN, FixedTokens

CLICK_GROUP: Final = "share click (Teams)"
FANOUT_GROUP: Final = "fan-out (Teams)"
RELAIS: Final = str(Path(sys.executable).with_name("relais"))
TENANT: Final = "tenant-bench"
BOT_ID: Final = f"28:{APP_ID}"
CHANNEL: Final = "19:general@thread.tacv2"
CARD_ID: Final = "1764200009999"  # the post card's message id in the channel
CONCURRENCY: Final = 50
TARGET_RATIO: Final = 0.7
TARGET_P99_MS: Final = 100.0
FANOUT_TARGET: Final = 0.9
CHANNELS: Final = 20
RANDOM_429: Final = 0.02
RETRY_AFTER: Final = 1
STALL_SECONDS: Final = 90.0
# Relais's sustained pace of a tenant's requests (a context figure: the gap to the allowed rate).
PACE: Final = 1 / TEAMS_TENANT_RATE.interval.total_seconds()
CARD: Final = "application/vnd.microsoft.card.adaptive"
MESSAGE: Final = "application/vnd.microsoft.activity.message"
NO_POSTGRES: Final = (
    "no PostgreSQL database given: pass --postgres URL or set RELAIS_BENCH_DATABASE_URL (a database of "
    "your own: its tables are dropped and recreated)"
)

Kind = Literal["bare", "relais"]
MembersKind = Literal["first", "known"]
KIND_NAMES: Final[dict[MembersKind, str]] = {"first": "first contacts", "known": "known members"}


@dataclass(frozen=True)
class Button:
    """A post card's button that records something before the invoke is answered: `recorded`, the row
    each click leaves (one per member: the benchmark has a single post); `answer`, the invoke answer's
    type expected."""

    name: str
    verb: str
    recorded: type[TrackedLink] | type[Dismissal]
    answer: str


BUTTONS: Final = (
    Button("share (personal link)", "share_x", TrackedLink, CARD),
    Button("not for me", "not_for_me", Dismissal, MESSAGE),
)


@dataclass(frozen=True)
class Sizes:
    seconds: float
    warmup: int
    posts: int
    members: int

    @classmethod
    def of(cls, options: Options) -> Sizes:
        return cls(2.0, 100, 3, 300) if options.quick else cls(10.0, 100, 10, 5000)


# ------------------------------------------------------------------------------------------------------------
# the server process (share click)


@dataclass(frozen=True)
class ServerSpec:
    kind: Kind
    database_url: str | None = None  # relais only
    known_members: tuple[str, ...] = ()  # Entra object ids of members already in the database


@dataclass(frozen=True)
class ServerInfo:
    url: str
    service_url: str
    token: str  # a Bot Framework token for `service_url`, valid for an hour


def server_main(spec: ServerSpec, connection: Connection) -> None:
    """Entry point of a server process (multiprocessing, spawn)."""
    logging.basicConfig(level=logging.ERROR, format="server %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(spec, connection))


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _serve(spec: ServerSpec, connection: Connection) -> None:
    errors = _ErrorCounter()
    logging.getLogger().addHandler(errors)
    async with (
        FakeBotFramework(app_id=APP_ID) as keys,
        FakeTeams(tenant_id=TENANT, bot_id=BOT_ID, token=OUTBOUND_TOKEN) as connector,
    ):
        connector.add_conversation(CHANNEL)
        engine: AsyncEngine | None = None
        if spec.kind == "bare":
            app = bare_app(keys.metadata_url)
        else:
            assert spec.database_url is not None
            engine = db.create_engine(spec.database_url)
            await prepare_clicks(engine, spec.known_members)
            settings = Settings(
                _env_file=None,
                database_url=spec.database_url,
                public_url="https://relais.example.test",
                microsoft_app_id=APP_ID,
                microsoft_app_password=APP_PASSWORD,
                microsoft_app_type="MultiTenant",
                teams_openid_metadata_url=keys.metadata_url,
                log_level="WARNING",
            )
            app = create_app(
                settings, engine=engine, clock=SystemClock(), adapters=[TeamsPlatform(tokens=FixedTokens())]
            )
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        before = asyncio.all_tasks()
        token = keys.token(service_url=connector.service_url, expires_in=3600)
        connection.send(ServerInfo(f"http://{host}:{port}", connector.service_url, token))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, connection.recv)
            if command == "stats":
                connection.send((time.process_time(), errors.count))
            elif command == "drain":
                await wait_for_background_work(before, seconds=60)
                connection.send("drained")
            elif command == "stop":
                break
        await runner.cleanup()
        if engine is not None:
            await engine.dispose()
        connection.send(errors.count)


def bare_app(metadata_url: str) -> web.Application:
    """The baseline: the Bot Framework token checked as Relais checks it, then 200 with an empty body."""
    tokens = BotFrameworkTokens(APP_ID, metadata_url=metadata_url)

    async def messages(request: web.Request) -> web.Response:
        activity = await request.json()
        if await tokens.identity(request.headers.get("Authorization"), activity) is None:
            return web.Response(status=401)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


async def prepare_clicks(engine: AsyncEngine, known_members: Sequence[str]) -> None:
    """A fresh schema, the tenant's workspace, one published post (id 1) in the channel, the known
    members."""
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)
        workspace_id = await connection.scalar(
            insert(Workspace)
            .values(
                platform=Platform.TEAMS,
                external_id=TENANT,
                name="Acme",
                settings={},
                created_at=now,
                updated_at=now,
            )
            .returning(Workspace.id)
        )
        await connection.execute(
            insert(Post).values(
                workspace_id=workspace_id,
                url="https://acme.example/news/round",
                title="Acme raises & grows",
                captions=["We raised!", "Proud of the team"],
                networks=["linkedin", "x"],
                channels=[CHANNEL],
                state=PostState.PUBLISHED,
                publish_at=now,
                published_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        if known_members:
            rows = [
                {"workspace_id": workspace_id, "external_id": aad, "created_at": now, "updated_at": now}
                for aad in known_members
            ]
            await connection.execute(insert(Member), rows)


class Server:
    """A server process and its control pipe."""

    def __init__(self, spec: ServerSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=server_main, args=(spec, child), daemon=True)
        self._process.start()
        child.close()
        info = self.receive(timeout=120)
        assert isinstance(info, ServerInfo)
        self.info = info

    def receive(self, timeout: float = 180) -> Any:
        if not self._connection.poll(timeout):
            self._process.kill()
            raise RuntimeError(f"the server process did not answer within {timeout:.0f}s")
        return self._connection.recv()

    def ask(self, command: str, timeout: float = 180) -> Any:
        self._connection.send(command)
        return self.receive(timeout)

    def stop(self) -> int:
        """Stop it; the errors it logged."""
        errors = self.ask("stop")
        self._process.join(30)
        return int(errors)

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


# ------------------------------------------------------------------------------------------------------------
# the load generator (this process)


def member(number: int) -> tuple[str, str]:
    """(Teams user id, Entra object id) of the benchmark's member `number`."""
    return f"29:m{number:07d}", f"aad-m{number:07d}"


def invoke(info: ServerInfo, number: int, verb: str) -> bytes:
    """A click of member `number` on the post card's `verb` button in the channel, as Teams sends it."""
    user, aad = member(number)
    body = {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": f"invoke-{number}",
        "channelId": "msteams",
        "serviceUrl": info.service_url,
        "timestamp": "2026-11-25T09:00:00.000Z",
        "from": {"id": user, "name": f"Member {number}", "aadObjectId": aad},
        "recipient": {"id": BOT_ID, "name": "Relais"},
        "conversation": {
            "id": f"{CHANNEL};messageid={CARD_ID}",
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TENANT,
        },
        "channelData": {
            "tenant": {"id": TENANT},
            "team": {"id": CHANNEL, "name": "Acme"},
            "channel": {"id": CHANNEL},
        },
        "replyToId": CARD_ID,
        "locale": "en-US",
        "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
        "value": {
            "action": {"type": "Action.Execute", "verb": verb, "data": {"action": verb, "value": "1"}},
            "trigger": "manual",
        },
    }
    return json.dumps(body).encode()


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    acked: list[int] = field(default_factory=list)  # member numbers answered as expected
    wrong: Counter[str] = field(default_factory=Counter)  # answered 200 but not as expected, by what
    wall: float = 0.0
    exhausted: bool = False

    @property
    def throughput(self) -> float:
        return (len(self.acked) + sum(self.wrong.values())) / self.wall if self.wall else 0.0

    def p99_ms(self) -> float:
        return 1000 * percentile(self.latencies, 0.99) if self.latencies else float("inf")


async def fire(
    session: aiohttp.ClientSession,
    info: ServerInfo,
    members: Sequence[int],
    button: Button | None,
    seconds: float,
) -> Load:
    """`CONCURRENCY` clicks in flight for `seconds` (those in flight then finish), one per member of
    `members` at most; `button` None: the baseline, which answers nothing to check."""
    load = Load()
    pending = iter(members)
    headers = {"Authorization": f"Bearer {info.token}", "Content-Type": "application/json"}
    url = f"{info.url}/api/messages"
    verb = button.verb if button is not None else "share_x"
    end = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < end:
            number = next(pending, None)
            if number is None:
                load.exhausted = True
                return
            body = invoke(info, number, verb)
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                load.statuses[0] += 1
                continue
            load.latencies.append(time.perf_counter() - started)
            load.statuses[status] += 1
            if status != 200:
                continue
            problem = _answer_problem(answer, button)
            if problem:
                load.wrong[problem] += 1
            else:
                load.acked.append(number)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    load.wall = time.perf_counter() - started
    return load


def _answer_problem(answer: bytes, button: Button | None) -> str:
    """Why an invoke's answer is not the one expected ("" when it is)."""
    if button is None:
        return ""
    try:
        body = json.loads(answer)
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict) or body.get("statusCode") != 200 or body.get("type") != button.answer:
        kind = body.get("type") if isinstance(body, dict) else None
        value = body.get("value") if isinstance(body, dict) else None
        return f"{kind}: {str(value)[:60]}"
    return ""


@asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@asynccontextmanager
async def server(spec: ServerSpec) -> AsyncIterator[Server]:
    started = Server(spec)
    try:
        yield started
    finally:
        started.kill()


async def baseline(sizes: Sizes) -> Load:
    """The bare app under the load (it keeps nothing: the same members again and again is fine)."""
    async with server(ServerSpec("bare")) as bare, client() as session:
        await fire(session, bare.info, range(sizes.warmup), None, 300)
        load = await fire(session, bare.info, range(10**7), None, sizes.seconds)
        bare.stop()
    return load


@dataclass
class Measured:
    load: Load
    errors: int = 0
    not_durable: int = 0  # acked members without their row right after the load
    not_once: int = 0  # members of the load whose row is not there exactly once in the end
    server_cpu: float = 0.0


async def relais_load(button: Button, kind: MembersKind, url: str, sizes: Sizes, members: int) -> Measured:
    """Relais on a fresh schema at `url`, warmed up then loaded with clicks by `members` members at most."""
    warm = range(sizes.warmup)
    numbers = range(sizes.warmup, sizes.warmup + members)
    known = (
        tuple(member(n)[1] for n in numbers) + tuple(member(n)[1] for n in warm) if kind == "known" else ()
    )
    async with server(ServerSpec("relais", url, known)) as relais, client() as session:
        await fire(session, relais.info, warm, button, 300)
        relais.ask("drain")
        cpu, logged = relais.ask("stats")
        load = await fire(session, relais.info, numbers, button, sizes.seconds)
        recorded = await rows_per_member(url, button.recorded)  # right after the last answer
        cpu_after, _ = relais.ask("stats")
        errors = relais.stop()
    final = await rows_per_member(url, button.recorded)
    acked = {member(n)[1] for n in load.acked}
    return Measured(
        load,
        errors=errors
        - logged
        + sum(c for s, c in load.statuses.items() if s != 200)
        + sum(load.wrong.values()),
        not_durable=sum(1 for aad in acked if recorded[aad] < 1),
        not_once=sum(1 for aad in acked if final[aad] != 1) + sum(1 for c in final.values() if c > 1),
        server_cpu=cpu_after - cpu,
    )


async def rows_per_member(url: str, row: type[TrackedLink] | type[Dismissal]) -> Counter[str]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(Member.external_id).join(row, row.member_id == Member.id)
            return Counter((await connection.execute(query)).scalars().all())
    finally:
        await engine.dispose()


async def measure_clicks(options: Options, sizes: Sizes) -> list[Figure]:
    databases = {"SQLite": "", "PostgreSQL": options.postgres_url or ""}
    bases: dict[str, list[Load]] = {}
    results: dict[tuple[str, MembersKind, str], list[Measured]] = {}
    files = 0
    for repeat in range(1, options.repeats + 1):
        for database, url in databases.items():
            if database == "PostgreSQL" and not url:
                continue
            base = await baseline(sizes)
            bases.setdefault(database, []).append(base)
            _say(f"run {repeat}: bare app, {database} pass: {len(base.latencies)} invokes in "
                 f"{base.wall:.1f} s, {base.throughput:,.0f}/s, p99 {base.p99_ms():.0f} ms")  # fmt: skip
            members = max(1000, int(base.throughput * sizes.seconds * 1.5))
            for button in BUTTONS:
                for kind in ("first", "known"):
                    files += 1
                    where = url or f"sqlite:///{options.work_dir / f'teams-click-{files}.db'}"
                    result = await relais_load(button, kind, db.normalize_database_url(where), sizes, members)
                    results.setdefault((button.name, kind, database), []).append(result)
                    load = result.load
                    _say(
                        f"run {repeat}: {button.name}, {KIND_NAMES[kind]}, {database}: "
                        f"{len(load.acked)} clicks in {load.wall:.1f} s, {load.throughput:,.0f}/s, "
                        f"{load.throughput / base.throughput:.2f}× bare, p99 {load.p99_ms():.0f} ms, "
                        f"server CPU {1000 * result.server_cpu / max(1, len(load.latencies)):.2f} ms/click, "
                        f"errors {result.errors} {dict(load.wrong)}, not durable {result.not_durable}, "
                        f"not once {result.not_once}"
                    )
    figures = [
        median_figure(
            CLICK_GROUP,
            f"bare app (token check only), {CONCURRENCY} concurrent, {database} pass: throughput",
            [load.throughput for load in loads],
            "/s",
        )
        for database, loads in bases.items()
    ]
    for (name, kind, database), runs in results.items():
        label = f"{name}, {KIND_NAMES[kind]}, {CONCURRENCY} concurrent, {database}"
        ratios = [m.load.throughput / b.throughput for m, b in zip(runs, bases[database], strict=True)]
        short = [f"run {n}" for n, m in enumerate(runs, 1) if m.load.exhausted]
        figures += [
            median_figure(
                CLICK_GROUP,
                f"{label}: throughput vs bare app",
                ratios,
                "×",
                comparison=">=",
                bound=TARGET_RATIO,
                note=f"ran out of prepared members ({', '.join(short)})" if short else "",
            ),
            median_figure(
                CLICK_GROUP,
                f"{label}: p99",
                [m.load.p99_ms() for m in runs],
                "ms",
                comparison="<=",
                bound=TARGET_P99_MS,
            ),
            _worst(CLICK_GROUP, f"{label}: errors", [m.errors for m in runs]),
            _worst(
                CLICK_GROUP,
                f"{label}: acked but not recorded right after the load",
                [m.not_durable for m in runs],
            ),
            _worst(CLICK_GROUP, f"{label}: members not recorded exactly once", [m.not_once for m in runs]),
        ]
    if not options.postgres_url:
        figures.append(not_measured(CLICK_GROUP, "every figure on PostgreSQL", "", "", NO_POSTGRES))
    return figures


def _worst(group: str, name: str, runs: Sequence[int]) -> Figure:
    """A correctness count: its worst run is the figure."""
    figure = median_figure(group, f"{name} (worst run)", runs, "count", comparison="==", bound=0)
    return replace(figure, value=float(max(runs)), passed=max(runs) == 0)


def _say(line: str) -> None:
    print(line, flush=True)


# ------------------------------------------------------------------------------------------------------------
# fan-out


class TimedTeams(FakeTeams):
    """The fake Bot Connector (anonymous, as the Agents Playground's), noting when it accepted each
    request (`time.monotonic()`, the fake's own clock)."""

    def __init__(self) -> None:
        super().__init__(tenant_id=TENANT, bot_id=BOT_ID, anonymous=True)
        self.accepted: list[tuple[float, str, str | None, str]] = []  # (at, operation, conversation, body)

    async def _answer(self, call: Any, bad_json: bool) -> web.Response:
        response = await super()._answer(call, bad_json)
        if response.status < 300:
            conversation = (call.conversation_id or "").split(";", 1)[0] or None
            self.accepted.append((self.clock(), call.operation, conversation, json.dumps(call.body)))
        return response


def allowed_span(accepted: Sequence[tuple[float, str, str | None, str]], refused: Sequence[float]) -> float:
    """The least time from the first accepted request to the last that the fake's limits allow for them, in
    the order they came: each placed at the earliest moment every sliding window admits it. A request
    refused at random (at `refused`, the fake's clock) comes back `RETRY_AFTER` after the moment its
    place in that order would have had: the span is at least that long."""
    tenant: list[float] = []
    conversations: dict[str | None, list[float]] = {}
    placed: list[float] = []
    at = 0.0
    for _, operation, conversation, _ in accepted:
        windows = [(tenant, *TENANT_LIMIT)]
        if operation != CREATE:
            windows += [(conversations.setdefault(conversation, []), *limit) for limit in CONVERSATION_LIMITS]
        for times, window, limit in windows:
            if len(times) >= limit:
                at = max(at, times[-limit] + window)
        for times in {id(times): times for times, _, _ in windows}.values():  # a conversation's: once
            times.append(at)
        placed.append(at)
    arrived = [when for when, _, _, _ in accepted]
    retried = (
        (placed[max(bisect.bisect_right(arrived, when) - 1, 0)] + RETRY_AFTER for when in refused)
        if placed
        else ()
    )
    return max(at, *retried) if placed else 0.0


@dataclass(frozen=True)
class Outcome:
    requests: int  # requests the fake accepted
    messages: int  # messages among them (sends)
    span: float
    allowed_span: float
    lost: int
    duplicated: int
    limited: int  # refused by the documented limits
    random_refused: int
    not_sent: int

    @property
    def achieved(self) -> float:
        return self.requests / self.span if self.span > 0 else 0.0

    @property
    def allowed(self) -> float:
        return self.requests / self.allowed_span if self.allowed_span > 0 else float("inf")

    @property
    def ratio(self) -> float:
        if self.allowed_span <= 0:
            return 1.0
        return self.allowed_span / self.span if self.span > 0 else 0.0


def _reference(service_url: str, conversation: dict[str, Any], user: dict[str, str] | None) -> dict[str, Any]:
    """A conversation reference as Relais stores it when it is installed in the team."""
    reference = {
        "bot": {"id": BOT_ID, "name": "Relais"},
        "conversation": conversation,
        "channelId": "msteams",
        "locale": "en-US",
        "serviceUrl": service_url,
    }
    return reference | ({"user": user} if user else {})


def channel_ids() -> list[str]:
    return [f"19:fan{index:03d}@thread.tacv2" for index in range(CHANNELS)]


async def prepare_fanout(url: str, fanout: str, sizes: Sizes, zone: str, service_url: str) -> None:
    """A fresh schema (`relais migrate`), the tenant's workspace (its nudges due from Monday 00:00 in
    `zone`) with the references stored at its install: each channel's, each member's (the team's
    conversation, the member as its user). push: `posts` posts due now, each to the 20 channels;
    nudges: one published post and `members` members."""
    now = datetime.now(UTC)
    engine = db.create_engine(db.normalize_database_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await migrate(url)
        async with engine.begin() as connection:
            workspace_id = await connection.scalar(
                insert(Workspace)
                .values(
                    platform=Platform.TEAMS,
                    external_id=TENANT,
                    name="Acme",
                    timezone=zone,
                    settings={
                        "nudges": {"day": 0, "time": "00:00"},
                        "leaderboard": {"day": 6, "time": "23:59"},
                    },
                    created_at=now,
                    updated_at=now,
                )
                .returning(Workspace.id)
            )
            team = {
                "id": channel_ids()[0],
                "conversationType": "channel",
                "isGroup": True,
                "tenantId": TENANT,
            }
            refs = [
                {
                    "workspace_id": workspace_id,
                    "key": channel,
                    "reference": _reference(service_url, {**team, "id": channel}, None),
                    "updated_at": now,
                }
                for channel in channel_ids()
            ]
            members = sizes.members if fanout == "nudges" else 0
            refs += [
                {
                    "workspace_id": workspace_id,
                    "key": member(n)[1],
                    "reference": _reference(
                        service_url, team, {"id": member(n)[0], "aadObjectId": member(n)[1]}
                    ),
                    "updated_at": now,
                }
                for n in range(members)
            ]
            await connection.execute(insert(ConversationRef), refs)
            push = fanout == "push"
            await connection.execute(
                insert(Post),
                [
                    {
                        "workspace_id": workspace_id,
                        "url": f"https://acme.example/news/{index}",
                        "title": f"Acme news number {index}",
                        "captions": ["Proud of the team"],
                        "networks": ["linkedin", "x"],
                        "channels": channel_ids() if push else [],
                        "state": PostState.SCHEDULED if push else PostState.PUBLISHED,
                        "publish_at": now - timedelta(minutes=1),
                        "published_at": None if push else now - timedelta(hours=1),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for index in range(sizes.posts if push else 1)
                ],
            )
            if members:
                await connection.execute(
                    insert(Member),
                    [
                        {
                            "workspace_id": workspace_id,
                            "external_id": member(n)[1],
                            "created_at": now,
                            "updated_at": now,
                        }
                        for n in range(members)
                    ],
                )
    finally:
        await engine.dispose()


async def unsent(url: str) -> int:
    engine = db.create_engine(db.normalize_database_url(url))
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(OutboxMessage.state != OutboxState.SENT)
            return int(await connection.scalar(query) or 0)
    finally:
        await engine.dispose()


async def run_fanout(url: str, fanout: str, sizes: Sizes, zone: str, work_dir: Path) -> Outcome:
    """Deliver one fan-out with one `relais clock` (Teams only); what the fake saw."""
    async with TimedTeams() as fake:
        channels = channel_ids()
        for channel in channels:
            fake.add_conversation(channel, members=[])
        members = [member(n) for n in range(sizes.members)] if fanout == "nudges" else []
        for user, aad in members:
            fake.add_member(user, aad_object_id=aad)
        fake.random_rate_limits(RANDOM_429, seed=13, retry_after=RETRY_AFTER)
        await prepare_fanout(url, fanout, sizes, zone, fake.service_url)
        expected = sizes.posts * CHANNELS if fanout == "push" else 2 * len(members)
        with (work_dir / f"teams-clock-{fanout}.log").open("wb") as log:
            clock = await asyncio.create_subprocess_exec(
                RELAIS,
                "clock",
                env=environment(DATABASE_URL=url, RELAIS_TEAMS_ANONYMOUS="true"),
                stdout=log,
                stderr=log,
            )
            try:
                await _until_delivered(fake, clock, expected)
            finally:
                if clock.returncode is None:
                    clock.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(clock.wait(), timeout=40)
                    except TimeoutError:
                        clock.kill()
                        await clock.wait()
        accepted = fake.accepted
        sends = [(conversation, body) for _, operation, conversation, body in accepted if operation != CREATE]
        if fanout == "push":
            pairs = Counter(
                (conversation, next((i for i in range(sizes.posts) if f'acme.example/news/{i}"' in body), -1))
                for conversation, body in sends
                if conversation in channels
            )
            lost = max(sizes.posts * CHANNELS - len(pairs), 0)
            duplicated = sum(count - 1 for count in pairs.values())
        else:
            chat_of = {  # each member's 1:1 chat, if it was opened
                c.members[0]: c.id for c in fake.conversations.values() if c.conversation_type == "personal"
            }
            per_chat = Counter(conversation for conversation, _ in sends)
            counts = [per_chat[chat_of[user]] if user in chat_of else 0 for user, _ in members]
            lost = sum(1 for count in counts if count == 0)
            duplicated = sum(max(count - 1, 0) for count in counts)
        first = accepted[0][0] if accepted else 0.0
        span = accepted[-1][0] - first if len(accepted) > 1 else 0.0
        return Outcome(
            requests=len(accepted),
            messages=len(sends),
            span=span,
            allowed_span=allowed_span(accepted, fake.random_refusals),
            lost=lost,
            duplicated=duplicated,
            limited=fake.limited,
            random_refused=len(fake.random_refusals),
            not_sent=await unsent(url),
        )


async def _until_delivered(fake: TimedTeams, clock: asyncio.subprocess.Process, expected: int) -> None:
    """Until `expected` requests were accepted, or none for `STALL_SECONDS` (twice that before the first),
    then 2 s more: anything sent twice arrives then."""
    loop = asyncio.get_running_loop()
    last_seen, seen = loop.time(), 0
    while len(fake.accepted) < expected:
        await asyncio.sleep(0.25)
        if clock.returncode is not None:
            raise RuntimeError("relais clock exited: see its log in the work directory")
        if len(fake.accepted) != seen:
            seen, last_seen = len(fake.accepted), loop.time()
        elif loop.time() - last_seen > (STALL_SECONDS if seen else 2 * STALL_SECONDS):
            break
    await asyncio.sleep(2)


async def measure_fanout(options: Options, sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    databases = {
        "SQLite": f"sqlite:///{options.work_dir / 'teams-fanout.db'}",
        "PostgreSQL": options.postgres_url,
    }
    for fanout in ("push", "nudges"):
        for database, url in databases.items():
            label = f"{fanout}, {database}, 1 drainer"
            zone = working_zone(datetime.now(UTC))
            why = NO_POSTGRES if url is None else ""
            if fanout == "nudges" and zone is None:
                why = "no time zone is in a weekday's working hours now (Sat 12:00–Sun 19:00 UTC)"
            if url is None or why:
                figures += [
                    not_measured(
                        FANOUT_GROUP, f"{label}: achieved vs allowed rate", "×", f"≥ {FANOUT_TARGET:g}×", why
                    ),
                    not_measured(FANOUT_GROUP, f"{label}: lost", "count", "= 0", why),
                    not_measured(FANOUT_GROUP, f"{label}: duplicated", "count", "= 0", why),
                ]
                continue
            outcomes = []
            for repeat in range(1, options.repeats + 1):
                outcome = await run_fanout(url, fanout, sizes, str(zone or "Etc/UTC"), options.work_dir)
                outcomes.append(outcome)
                _say(
                    f"run {repeat}: {label}: {outcome.requests} requests ({outcome.messages} messages) in "
                    f"{outcome.span:.1f} s, {outcome.achieved:.1f}/s; allowed {outcome.allowed:.1f}/s, "
                    f"{outcome.ratio:.2f}×; lost {outcome.lost}, duplicated {outcome.duplicated}, unsent "
                    f"{outcome.not_sent}; 429s: limits {outcome.limited}, random {outcome.random_refused}"
                )
            note = (
                f"{statistics.median([o.requests for o in outcomes]):g} requests; 429s over all runs: limits "
                f"{sum(o.limited for o in outcomes)}, random {sum(o.random_refused for o in outcomes)}; left "
                f"unsent: {max(o.not_sent for o in outcomes)}"
            )
            figures += [
                median_figure(
                    FANOUT_GROUP,
                    f"{label}: achieved vs allowed rate",
                    [o.ratio for o in outcomes],
                    "×",
                    comparison=">=",
                    bound=FANOUT_TARGET,
                    note=note,
                ),
                median_figure(
                    FANOUT_GROUP, f"{label}: achieved rate (requests)", [o.achieved for o in outcomes], "/s"
                ),
                median_figure(
                    FANOUT_GROUP, f"{label}: allowed rate (requests)", [o.allowed for o in outcomes], "/s"
                ),
                median_figure(
                    FANOUT_GROUP,
                    f"{label}: achieved vs Relais's own tenant pace ({PACE:g}/s)",
                    [o.achieved / PACE for o in outcomes],
                    "×",
                ),
                _worst(FANOUT_GROUP, f"{label}: lost", [o.lost for o in outcomes]),
                _worst(FANOUT_GROUP, f"{label}: duplicated", [o.duplicated for o in outcomes]),
            ]
    return figures


# ------------------------------------------------------------------------------------------------------------
# the figures of `python3 dev.py bench`


PARTS: Final = ("click", "fanout")


def measure(options: Options, parts: Sequence[str] = PARTS) -> list[Figure]:
    """The Teams share click and fan-out, each measurement run `options.repeats` times."""
    sizes = Sizes.of(options)
    figures: list[Figure] = []
    if "click" in parts:
        figures += asyncio.run(measure_clicks(options, sizes))
    if "fanout" in parts:
        figures += asyncio.run(measure_fanout(options, sizes))
    return figures


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_teams", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="2 s loads, 3 posts and 300 members")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--postgres", metavar="URL", help="also on this PostgreSQL (its tables are DROPPED)")
    parser.add_argument(
        "--only",
        type=lambda value: [part.strip() for part in value.split(",") if part.strip()],
        default=list(PARTS),
        help="click, fanout or both (default)",
    )
    parsed = parser.parse_args(arguments)
    with tempfile.TemporaryDirectory(prefix="relais-bench-teams-") as folder:
        options = Options(parsed.repeats, parsed.quick, parsed.postgres, Path(folder))
        figures = measure(options, parsed.only)
    print_table(figures)
    return 1 if any(figure.passed is False for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
