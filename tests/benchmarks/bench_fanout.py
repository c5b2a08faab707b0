"""Fan-out benchmark (issue 13, target 3): posts pushed to 20 channels, and a nudge round, delivered by the
real outbox drainers (`relais clock` processes) to the fake Slack enforcing Slack's limits.

    python -m tests.benchmarks.bench_fanout [--quick] [--postgres URL] [--repeats N]

The fake Slack (`bot.demo.fake_slack.FakeSlack`, in this process) enforces on chat.postMessage:

* one message a second per channel, in bursts of 3 (Slack's documented per-channel limit);
* a workspace-wide cap of `WORKSPACE_PER_MINUTE` = 1,200 messages a minute (20 a second, burst 20).
  Slack documents only "several hundred per minute"; the fake's own default is 600 a minute. The bench
  uses twice that so that the full run fits in about ten minutes, and a higher cap is the harder one for
  Relais to reach. `relais clock` is told the same cap (`SLACK_MESSAGES_PER_MINUTE`), as an operator
  would be told to set it to what Slack gives their workspace;
* 2 % of the calls refused at random with 429 and `Retry-After: 1` (seeded).

Two fan-outs, each on a fresh database and a fresh fake, measured from the first message Slack accepts to
the last:

* push: `posts` posts due at once, each pushed to the same 20 channels (10 posts, 200 messages; quick: 3
  posts, 60 messages). One post alone is 20 messages, which the limits let through in one burst: there
  is no rate to measure in it;
* nudges: the weekly nudge round to `members` members (5,000; quick: 500), one DM each.

Each runs with one `relais clock` on SQLite, and with two on PostgreSQL (`--postgres`: its tables are
dropped and recreated; without it the PostgreSQL figures are not measured).

Figures, for each fan-out and setup: the achieved rate against the allowed rate (≥ 0.9×), lost (= 0)
and duplicated (= 0) messages, counted per destination at the fake. The allowed rate is the fastest the
limits permit for the messages actually sent: the time the last one could come at the earliest, from a
first one at 0, is the longer of (messages − workspace burst) / workspace rate and, for each channel,
(its messages − 3) / 1 s, or, if later, the last random 429's time plus its Retry-After (that message
cannot come sooner). Random 429s take no token: a drainer that does not stall on them loses nothing
else.

Durations (one repeat, measured on a busy 2-core machine): quick ≈ 2.5 minutes (SQLite and PostgreSQL);
full ≈ 13 minutes (the 5,000 nudges take ≥ 250 s at 20 a second, on each setup; a PostgreSQL clock
leads 15 s after it starts); `dev.py bench`'s default of 3 repeats makes that about 40 minutes. Full
run, 2026-11-29: push 0.95× (SQLite) and 0.96× (PostgreSQL, 2 drainers); nudges 0.98× and 0.98×;
nothing lost or duplicated; 10-15 ms of the clocks' CPU a message.

The nudge round is sent in its members' working hours on a weekday: the workspace's time zone is chosen
so that the run falls in them; from Saturday 12:00 to Sunday 19:00 UTC no time zone does, and the nudge
figures are not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, insert, select, text

from bot import db
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack, SlackCall
from bot.services.weekly import WORK_END, WORK_START
from models import Base, Member, OutboxMessage, OutboxState, Platform, Post, PostState, Workspace
from tests.benchmarks.report import Figure, Options, median_figure, not_measured

GROUP: Final = "fan-out"
RELAIS: Final = str(Path(sys.executable).with_name("relais"))
BOT_TOKEN: Final = "xoxb-bench-fanout"
TEAM: Final = "TFANOUT"
CHANNELS: Final = 20
CHANNEL_BURST: Final = 3
CHANNEL_PER_SECOND: Final = 1.0
WORKSPACE_PER_MINUTE: Final = 1200
WORKSPACE_BURST: Final = 20
RANDOM_429: Final = 0.02
RETRY_AFTER: Final = 1  # seconds, in the random 429s
TARGET_RATIO: Final = 0.9
RUN_MINUTES: Final = 20  # the longest a nudge run may last: the working hours must hold that long
STALL_SECONDS: Final = 90.0  # no message accepted for this long: the drainers are stuck, give up


@dataclass(frozen=True)
class Size:
    posts: int
    members: int


FANOUTS: Final = ("push", "nudges")
FULL: Final = Size(posts=10, members=5000)
QUICK: Final = Size(posts=3, members=500)


@dataclass(frozen=True)
class Setup:
    name: str  # "SQLite, 1 drainer"
    database_url: str
    drainers: int


@dataclass(frozen=True)
class Outcome:
    """One fan-out's run, as the fake saw it."""

    messages: int  # accepted chat.postMessage calls
    span: float  # seconds from the first accepted to the last
    allowed_span: float  # the least the limits allow for them
    lost: int
    duplicated: int
    refused: Counter[str]
    not_sent: int  # outbox rows left unsent at the end
    cpu_ms_per_message: float  # the clocks' CPU time from the first message to the last, per message

    @property
    def achieved(self) -> float:
        return self.messages / self.span if self.span > 0 else 0.0

    @property
    def allowed(self) -> float:
        return self.messages / self.allowed_span if self.allowed_span > 0 else float("inf")

    @property
    def ratio(self) -> float:
        if self.allowed_span <= 0:
            return 1.0  # everything fits in one burst: nothing to pace
        return self.allowed_span / self.span if self.span > 0 else 0.0


class CountingSlack(FakeSlack):
    """The fake Slack, also noting when each chat.postMessage was accepted, and where, with which text."""

    def __init__(self) -> None:
        super().__init__(bot_token=BOT_TOKEN, team_id=TEAM)
        self.posted: list[tuple[float, str, str]] = []
        self.random_refusals: list[float] = []  # when each random 429 was answered

    def _chat_post_message(self, call: SlackCall) -> dict[str, Any]:
        answer = super()._chat_post_message(call)
        self.posted.append((time.monotonic(), str(call.params.get("channel")), str(call.params.get("text"))))
        return answer

    def _refuse(self, cause: str, retry_after: int) -> web.Response:
        if cause == "random":
            self.random_refusals.append(time.monotonic())
        return super()._refuse(cause, retry_after)


def allowed_span(per_destination: Counter[str], channels: set[str]) -> float:
    """The least time from the first message to the last that the limits allow (see the docstring)."""
    total = sum(per_destination.values())
    workspace = (total - WORKSPACE_BURST) / (WORKSPACE_PER_MINUTE / 60)
    channel = max(
        (
            (count - CHANNEL_BURST) / CHANNEL_PER_SECOND
            for dest, count in per_destination.items()
            if dest in channels
        ),
        default=0.0,
    )
    return max(workspace, channel, 0.0)


def working_zone(now: datetime) -> ZoneInfo | None:
    """A fixed-offset time zone in which `now` and the next `RUN_MINUTES` are a weekday's working hours,
    the one nearest late morning; None when there is none (weekends)."""
    best: tuple[float, ZoneInfo] | None = None
    for hours in range(-12, 15):
        zone = ZoneInfo(f"Etc/GMT{-hours:+d}") if hours else ZoneInfo("Etc/UTC")
        local, end = now.astimezone(zone), (now + timedelta(minutes=RUN_MINUTES)).astimezone(zone)
        if local.weekday() >= 5 or end.date() != local.date():
            continue
        if not (local.time() >= WORK_START and end.time() < WORK_END):
            continue
        distance = abs(local.hour + local.minute / 60 - 11)
        if best is None or distance < best[0]:
            best = (distance, zone)
    return best[1] if best else None


# ------------------------------------------------------------------------------------------------------------
# the database


async def prepare(database_url: str, *, size: Size, fanout: str, zone: str) -> None:
    """A fresh schema and a workspace (its time zone `zone`, its nudges due from Monday 00:00), with
    for "push" `size.posts` posts due now, each to the 20 channels; for "nudges" one published post
    and `size.members` members to nudge."""
    now = datetime.now(UTC)
    engine = db.create_engine(db.normalize_database_url(database_url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await _migrate(database_url)
        async with engine.begin() as connection:
            workspace_id = await connection.scalar(
                insert(Workspace)
                .values(
                    platform=Platform.SLACK,
                    external_id=TEAM,
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
            author = await connection.scalar(
                insert(Member)
                .values(
                    workspace_id=workspace_id,
                    external_id="UAUTHOR",
                    opted_out=True,
                    created_at=now,
                    updated_at=now,
                )
                .returning(Member.id)
            )
            posts = size.posts if fanout == "push" else 1
            await connection.execute(
                insert(Post),
                [
                    {
                        "workspace_id": workspace_id,
                        "url": f"https://acme.example/news/{index}",
                        "title": f"Acme news number {index}",
                        "captions": ["Proud of the team"],
                        "networks": ["linkedin", "x"],
                        "channels": _channel_ids() if fanout == "push" else [],
                        "state": PostState.SCHEDULED if fanout == "push" else PostState.PUBLISHED,
                        "publish_at": now - timedelta(minutes=1),
                        "published_at": None if fanout == "push" else now - timedelta(hours=1),
                        "created_by_id": author,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for index in range(posts)
                ],
            )
            if fanout == "nudges":
                await connection.execute(
                    insert(Member),
                    [
                        {
                            "workspace_id": workspace_id,
                            "external_id": user,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for user in _member_ids(size.members)
                    ],
                )
    finally:
        await engine.dispose()


async def _migrate(database_url: str) -> None:
    """The schema as `relais migrate` makes it (`relais clock` refuses a database that is not at head)."""
    migrate = await asyncio.create_subprocess_exec(
        RELAIS,
        "migrate",
        env={**_clean_environment(), "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await migrate.communicate()
    if migrate.returncode != 0:
        raise RuntimeError(f"relais migrate failed: {output.decode(errors='replace')}")


async def unsent(database_url: str) -> int:
    engine = db.create_engine(db.normalize_database_url(database_url))
    try:
        async with db.session_factory(engine)() as session:
            return int(
                await session.scalar(select(func.count()).where(OutboxMessage.state != OutboxState.SENT)) or 0
            )
    finally:
        await engine.dispose()


def _channel_ids() -> list[str]:
    return [f"CFAN{index:04d}" for index in range(CHANNELS)]


def _member_ids(count: int) -> list[str]:
    return [f"UFAN{index:06d}" for index in range(count)]


# ------------------------------------------------------------------------------------------------------------
# one run


def _clean_environment() -> dict[str, str]:
    """This process's environment without any Relais setting."""
    names = {name.upper() for name in Settings.model_fields}
    return {key: value for key, value in os.environ.items() if key not in names}


def _environment(database_url: str, fake: FakeSlack, log_level: str = "WARNING") -> dict[str, str]:
    """The process environment of `relais clock`: none of this shell's Relais settings, only these."""
    environment = _clean_environment()
    environment.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="bench-signing-secret",
        SLACK_API_URL=fake.api_url,
        SLACK_MESSAGES_PER_MINUTE=str(WORKSPACE_PER_MINUTE),
        LOG_LEVEL=log_level,
    )
    return environment


async def run_fanout(setup: Setup, fanout: str, size: Size, zone: str, work_dir: Path) -> Outcome:
    """Deliver one fan-out with `setup.drainers` `relais clock` processes; what the fake saw."""
    await prepare(setup.database_url, size=size, fanout=fanout, zone=zone)
    async with CountingSlack() as fake:
        channels = set(_channel_ids())
        for channel in sorted(channels):
            fake.add_channel(channel, channel.lower())
        members = _member_ids(size.members) if fanout == "nudges" else []
        for user in members:
            fake.add_user(user, tz=zone)
        fake.limit_channel_rate(burst=CHANNEL_BURST, per_second=CHANNEL_PER_SECOND)
        fake.limit_workspace_rate(per_minute=WORKSPACE_PER_MINUTE, burst=WORKSPACE_BURST)
        fake.random_rate_limits(RANDOM_429, seed=13, retry_after=RETRY_AFTER)
        expected = size.posts * CHANNELS if fanout == "push" else size.members
        environment = _environment(setup.database_url, fake)
        logs = [(work_dir / f"clock-{fanout}-{index}.log").open("wb") for index in range(setup.drainers)]
        clocks = [
            await asyncio.create_subprocess_exec(RELAIS, "clock", env=environment, stdout=log, stderr=log)
            for log in logs
        ]
        cpu = 0.0
        try:
            cpu = await _until_delivered(
                fake, clocks, expected, minimum=allowed_span(Counter({"*": expected}), set())
            )
        finally:
            for clock in clocks:
                if clock.returncode is None:
                    clock.send_signal(signal.SIGTERM)
            for clock in clocks:
                try:
                    await asyncio.wait_for(clock.wait(), timeout=40)
                except TimeoutError:
                    clock.kill()
                    await clock.wait()
            for log in logs:
                log.close()
        return await _outcome(fake, setup.database_url, fanout, size, channels, members, cpu)


def _cpu_seconds(clocks: list[asyncio.subprocess.Process]) -> float:
    """The CPU time the clock processes have used so far (Linux: /proc/<pid>/stat's utime + stime)."""
    total = 0
    for clock in clocks:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{clock.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _until_delivered(
    fake: CountingSlack, clocks: list[asyncio.subprocess.Process], expected: int, *, minimum: float
) -> float:
    """Until `expected` messages were accepted, or nothing was for `STALL_SECONDS` after the first
    (or before it, for twice as long: a PostgreSQL clock leads 15 s after it starts), or far too long.
    Returns the CPU time the clocks used from the first message accepted to the end."""
    loop = asyncio.get_running_loop()
    started = last_seen = loop.time()
    seen = 0
    cpu_at_first = 0.0
    deadline = started + 3 * minimum + 180
    while len(fake.posted) < expected and loop.time() < deadline:
        await asyncio.sleep(0.25)
        if any(clock.returncode is not None for clock in clocks):
            raise RuntimeError("a relais clock exited: see its log in the work directory")
        if len(fake.posted) != seen:
            if not seen:
                cpu_at_first = _cpu_seconds(clocks)
            seen, last_seen = len(fake.posted), loop.time()
        elif loop.time() - last_seen > (STALL_SECONDS if seen else 2 * STALL_SECONDS):
            break
    cpu = _cpu_seconds(clocks) - cpu_at_first
    await asyncio.sleep(2)  # anything sent twice arrives now
    return cpu


async def _outcome(
    fake: CountingSlack,
    database_url: str,
    fanout: str,
    size: Size,
    channels: set[str],
    members: list[str],
    cpu: float,
) -> Outcome:
    posted = fake.posted
    per_destination = Counter(destination for _, destination, _ in posted)
    if fanout == "push":
        pairs = Counter((destination, body) for _, destination, body in posted if destination in channels)
        lost = max(size.posts * CHANNELS - len(pairs), 0)
        duplicated = sum(count - 1 for count in pairs.values())
    else:
        lost = sum(1 for user in members if per_destination[user] == 0)
        duplicated = sum(max(per_destination[user] - 1, 0) for user in members)
    span = posted[-1][0] - posted[0][0] if len(posted) > 1 else 0.0
    # A message refused at random may not come back before its Retry-After: the last one so refused
    # bounds the span too.
    retried = (
        max((at + RETRY_AFTER - posted[0][0] for at in fake.random_refusals), default=0.0) if posted else 0.0
    )
    return Outcome(
        messages=len(posted),
        span=span,
        allowed_span=max(allowed_span(per_destination, channels), retried),
        lost=lost,
        duplicated=duplicated,
        refused=Counter(fake.refused),
        not_sent=await unsent(database_url),
        cpu_ms_per_message=1000 * cpu / len(posted) if posted else 0.0,
    )


# ------------------------------------------------------------------------------------------------------------
# the figures


def _figures(fanout: str, setup: Setup, outcomes: Sequence[Outcome]) -> list[Figure]:
    label = f"{fanout}, {setup.name}"
    refused = sum((outcome.refused for outcome in outcomes), Counter[str]())
    note = (
        f"{statistics.median(o.messages for o in outcomes):g} messages; 429s by cause over all runs: "
        + ", ".join(f"{cause} {count}" for cause, count in sorted(refused.items()))
        + f"; left unsent: {max(o.not_sent for o in outcomes)}"
    )
    return [
        median_figure(
            GROUP,
            f"{label}: achieved vs allowed rate",
            [outcome.ratio for outcome in outcomes],
            "×",
            comparison=">=",
            bound=TARGET_RATIO,
            note=note,
        ),
        median_figure(GROUP, f"{label}: achieved rate", [o.achieved for o in outcomes], "/s"),
        median_figure(GROUP, f"{label}: allowed rate", [o.allowed for o in outcomes], "/s"),
        median_figure(
            GROUP, f"{label}: drainers' CPU per message", [o.cpu_ms_per_message for o in outcomes], "ms"
        ),
        median_figure(
            GROUP, f"{label}: lost", [max(o.lost for o in outcomes)], "count", comparison="==", bound=0
        ),
        median_figure(
            GROUP,
            f"{label}: duplicated",
            [max(o.duplicated for o in outcomes)],
            "count",
            comparison="==",
            bound=0,
        ),
    ]


def _not_measured(fanout: str, setup_name: str, why: str) -> list[Figure]:
    label = f"{fanout}, {setup_name}"
    return [
        not_measured(GROUP, f"{label}: achieved vs allowed rate", "×", f"≥ {TARGET_RATIO:g}×", why),
        not_measured(GROUP, f"{label}: lost", "count", "= 0", why),
        not_measured(GROUP, f"{label}: duplicated", "count", "= 0", why),
    ]


def _setups(options: Options) -> list[Setup | str]:
    """The setups to run (a string: the name of one that cannot be, with why after a colon)."""
    sqlite = f"sqlite:///{options.work_dir / 'fanout.db'}"
    setups: list[Setup | str] = [Setup("SQLite, 1 drainer", sqlite, 1)]
    if options.postgres_url:
        setups.append(Setup("PostgreSQL, 2 drainers", options.postgres_url, 2))
    else:
        setups.append("PostgreSQL, 2 drainers: no PostgreSQL database given (--postgres)")
    return setups


def measure(
    options: Options,
    *,
    progress: Callable[[str], None] | None = None,
    fanouts: Sequence[str] = FANOUTS,
) -> list[Figure]:
    """The figures; each run is also told to `progress` as it ends (by default printed: a full run is
    long)."""
    return asyncio.run(_measure(options, progress or (lambda line: print(line, flush=True)), fanouts))


async def _measure(options: Options, progress: Callable[[str], None], fanouts: Sequence[str]) -> list[Figure]:
    size = QUICK if options.quick else FULL
    figures: list[Figure] = []
    for fanout in fanouts:
        for setup in _setups(options):
            if isinstance(setup, str):
                name, why = setup.split(": ", 1)
                figures += _not_measured(fanout, name, why)
                continue
            zone = working_zone(datetime.now(UTC))
            if fanout == "nudges" and zone is None:
                figures += _not_measured(
                    fanout,
                    setup.name,
                    "no time zone is in a weekday's working hours now (Sat 12:00–Sun 19:00 UTC)",
                )
                continue
            outcomes = []
            for repeat in range(options.repeats):
                outcome = await run_fanout(setup, fanout, size, str(zone or "Etc/UTC"), options.work_dir)
                outcomes.append(outcome)
                progress(
                    f"{fanout}, {setup.name}, run {repeat + 1}: {outcome.messages} messages in "
                    f"{outcome.span:.1f} s ({outcome.achieved:.1f}/s; allowed {outcome.allowed:.1f}/s, "
                    f"{outcome.ratio:.2f}×); lost {outcome.lost}, duplicated {outcome.duplicated}, "
                    f"unsent {outcome.not_sent}; 429s {dict(outcome.refused)}; "
                    f"CPU {outcome.cpu_ms_per_message:.1f} ms/message"
                )
            figures += _figures(fanout, setup, outcomes)
    return figures


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_fanout", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="500 members and 3 posts (default 5,000 and 10)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database whose tables may be dropped")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each measurement (default 1)")
    parser.add_argument(
        "--only", choices=FANOUTS, action="append", help="only this fan-out (may be repeated; default both)"
    )
    parsed = parser.parse_args(arguments)
    with tempfile.TemporaryDirectory(prefix="relais-bench-fanout-") as folder:
        options = Options(
            repeats=parsed.repeats, quick=parsed.quick, postgres_url=parsed.postgres, work_dir=Path(folder)
        )
        figures = measure(options, fanouts=parsed.only or FANOUTS)
    for figure in figures:
        value = "—" if figure.value is None else f"{figure.value:.3g}"
        verdict = {True: "pass", False: "FAIL", None: ""}[figure.passed]
        print(f"{figure.name:<60} {value:>9} {figure.unit:<5} {figure.target:<8} {verdict:<4} {figure.note}")
    return 0 if all(figure.passed is not False for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
