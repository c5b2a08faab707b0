"""`relais clock` as a real process, on a time the test chooses, for the fault tests of the clock.

The clock reads the system clock (its outbox keeps real time), and some of what the faults exercise waits
minutes by design: a message left `sending` by a killed clock is sent again only once `STALE_SENDING`
(5 minutes) has passed, a failed message waits its back-off, the outbox job runs every minute. So the
process runs under libfaketime (as CI's second suite run does), preloaded straight into it (the
`faketime` command would fork, and a `kill -9` must reach the clock itself): it starts at a fixed moment
of the test's choosing (`START`, a Wednesday morning, whatever today is) and its clocks, the wall clock
and the monotonic one, run `RATE` times faster than real time. Every time the process reads, and every
wait it makes, is on that clock; the test asserts on what the fake Slack received and on the database,
never on the time taken.

Runs wherever libfaketime is installed (CI installs it, see `.ci/run`); elsewhere the test is skipped,
and in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.demo.fake_slack import FakeSlack
from models import Member, OutboxMessage, OutboxState, Platform, Post, PostState, Workspace
from tests.conftest import BOT_TOKEN, SETTINGS_VARIABLES, SIGNING_SECRET

RELAIS: Final = str(Path(sys.executable).with_name("relais"))
# A Wednesday, 10:00 UTC: after the nudges' default moment (Tuesday 10:00) and in working hours.
START: Final = datetime(2030, 1, 9, 10, 0, tzinfo=UTC)
# The faked clocks of the process run this many times faster than real time: the outbox job's minute is
# 6 real seconds, a 5-second back-off half of one. Not much more: on PostgreSQL the leader must answer its
# lock's ping within `scheduler.leader.HEARTBEAT_SECONDS` of its own time (half a real second here), or
# it stops leading, and a busy machine can stall a process longer than that.
RATE: Final = 10
TEAM: Final = "T0001"
CREATED: Final = START - timedelta(days=30)

Sessions = async_sessionmaker[AsyncSession]


def libfaketime() -> str:
    """The multithreaded libfaketime preload library, or a skip saying why (a failure in CI)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    if not found:
        reason = "libfaketime is not installed (apt-get install faketime)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found[0]


def clock_environment(database_url: str, fake_slack: FakeSlack) -> dict[str, str]:
    """The environment of a `relais clock` sending to `fake_slack` (none of the developer's settings)."""
    environment = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    # The suite itself may run under libfaketime (CI's second run): the clock gets its own time only.
    for name in ("LD_PRELOAD", "FAKETIME"):
        environment.pop(name, None)
    environment.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        # The fake Slack enforces no workspace-wide cap here: the clock need not pace itself to Slack's
        # (600 a minute by default), which would only make the rounds longer.
        SLACK_MESSAGES_PER_MINUTE="6000",
        TZ="UTC",
    )
    return environment


async def migrate(environment: Mapping[str, str]) -> None:
    """The schema made by the real `relais migrate`."""
    migrated = await asyncio.create_subprocess_exec(RELAIS, "migrate", env=dict(environment))
    assert await asyncio.wait_for(migrated.wait(), timeout=60) == 0


@contextlib.asynccontextmanager
async def migrated(
    database_url: str, fake_slack: FakeSlack
) -> AsyncIterator[tuple[dict[str, str], AsyncEngine, Sessions]]:
    """A clock's environment against `fake_slack`, its database migrated by `relais migrate`, and this
    test's engine and sessions on it (disposed at the end)."""
    environment = clock_environment(database_url, fake_slack)
    await migrate(environment)
    engine = db.create_engine(database_url)
    try:
        yield environment, engine, db.session_factory(engine)
    finally:
        await engine.dispose()


async def start_clock(
    environment: Mapping[str, str], *, at: datetime, rate: int = RATE
) -> asyncio.subprocess.Process:
    """`relais clock`, its clocks starting at `at` and running `rate` times faster than real time."""
    faked = {
        **environment,
        "LD_PRELOAD": libfaketime(),
        "FAKETIME": f"@{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} x{rate}",
    }
    return await asyncio.create_subprocess_exec(
        RELAIS, "clock", env=faked, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def kill(process: asyncio.subprocess.Process) -> None:
    """`kill -9`: no signal handler, no `finally`, the process is gone in the middle of what it does."""
    if process.returncode is None:
        process.kill()
    assert await asyncio.wait_for(process.wait(), timeout=10) == -signal.SIGKILL


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, then the process must exit cleanly; returns its log (stderr)."""
    try:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "Traceback" not in log, log
    return log


async def seed_nudge_round(sessions: Sessions, fake_slack: FakeSlack, members: int) -> list[str]:
    """A workspace of `members` active members (in Slack too), none of whom shared anything yet, and a
    post published last week: this week's nudge round is due at `START` and reaches every one of them.
    Returns their Slack ids."""
    ids = [f"U{number:06d}" for number in range(1, members + 1)]
    for user_id in ids:
        fake_slack.add_user(user_id, tz="UTC")
    async with sessions() as session:
        workspace = Workspace(
            platform=Platform.SLACK,
            external_id=TEAM,
            timezone="UTC",
            created_at=CREATED,
            updated_at=CREATED,
        )
        session.add(workspace)
        await session.flush()
        await session.execute(
            insert(Member),
            [
                {
                    "workspace_id": workspace.id,
                    "external_id": user_id,
                    "display_name": user_id,
                    "locale": "en-US",
                    "timezone": "UTC",
                    "created_at": CREATED,
                    "updated_at": CREATED,
                }
                for user_id in ids
            ],
        )
        author = await session.scalar(select(Member.id).where(Member.external_id == ids[0]))
        published = START - timedelta(days=3)
        session.add(
            Post(
                workspace_id=workspace.id,
                url="https://example.com/launch",
                title="Our launch",
                captions=["We launched!"],
                networks=["linkedin", "x"],
                channels=["C0NEWS"],
                state=PostState.PUBLISHED,
                publish_at=published,
                published_at=published,
                created_by_id=author,
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        await session.commit()
    return ids


def direct_messages(fake_slack: FakeSlack) -> dict[str, int]:
    """How many messages each member received in their DM with the bot: what Slack holds, not what
    was attempted (a call Slack answered with an error, or still holds, delivered nothing)."""
    received: dict[str, int] = {}
    for channel_id, messages in fake_slack.messages.items():
        channel = fake_slack.channels.get(channel_id)
        if channel is not None and channel.is_im and channel.user is not None and messages:
            received[channel.user] = received.get(channel.user, 0) + len(messages)
    return received


async def states(sessions: Sessions) -> dict[OutboxState, int]:
    """How many outbox rows are in each state."""
    async with sessions() as session:
        rows = await session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
        return {state: count for state, count in rows.all()}  # noqa: C416 (rows are Row, not pairs, for mypy)


async def until(
    condition: Callable[[], object], *, within: float, what: str, process: asyncio.subprocess.Process
) -> None:
    """Wait (polling) until `condition()` (sync or async) is true, at most `within` real seconds; the
    clock process must stay alive meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if process.returncode is not None:
            assert process.stderr is not None
            log = (await process.stderr.read()).decode()
            raise AssertionError(f"relais clock exited ({process.returncode}) before {what}:\n{log}")
        if loop.time() >= deadline:
            raise TimeoutError(f"not within {within} s: {what}")
        await asyncio.sleep(0.2)  # each look costs the database and the fake a little
