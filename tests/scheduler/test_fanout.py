"""Fan-out at Slack's pace: `relais clock` drains as soon as messages are due (not only when a job runs, and
more than a pass's worth), every drainer together keeps to the workspace's cap, and a 429 puts its message
back for Retry-After, using up no attempt, while the others go on. Measured at scale by
tests/benchmarks/bench_fanout.py."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock, SystemClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from bot.services import outbox
from handlers.slack.platform import SlackPlatform
from models import ClockJob, OutboxMessage, OutboxState
from scheduler import jobs
from tests.bot.test_cli import _environment
from tests.handlers.slack.driver import SettingsFactory, eventually
from tests.scheduler.clock_process import relais_clock
from tests.scheduler.test_delivery import _enqueue
from tests.scheduler.test_jobs_cli import _env, _relais
from tests.scheduler.test_weekly import BOARD_TIME

Sessions = async_sessionmaker[AsyncSession]


def _ctx(settings: Settings, sessions: Sessions, now: FrozenClock | SystemClock) -> jobs.Context:
    """What `relais clock` drains with: the Slack platform's own notifier."""
    notifier = SlackPlatform().notifier(settings, sessions, SystemClock())
    return jobs.Context(sessions, {"slack": notifier}, now.now)


async def _states(sessions: Sessions) -> list[tuple[OutboxState, int]]:
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return [(row.state, row.attempts) for row in rows]


async def test_relais_clock_sends_what_another_process_enqueues_within_seconds_even_beyond_a_pass(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """Messages enqueued once the clock has run its jobs (as the web process enqueues them) go out within
    seconds, all 250 of them: the clock's jobs drain once a minute, 200 messages a pass."""
    users = [f"U{index:04d}" for index in range(250)]
    for user in users:
        fake_slack.add_user(user)
    env = {**_env(empty_database_url, fake_slack), "SLACK_MESSAGES_PER_MINUTE": "60000"}
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    async with relais_clock(_environment(**env)):

        async def outbox_job_ran() -> bool:
            async with sessions() as session:
                job = await session.get(ClockJob, "outbox")
                return job is not None and job.last_finished_at is not None

        await eventually(outbox_job_ran, timeout=30)
        await _enqueue(
            sessions, FrozenClock(datetime.now(UTC)), [("social_connected", user) for user in users]
        )

        async def all_sent() -> bool:
            return len(fake_slack.calls_to("chat.postMessage")) >= len(users)

        await eventually(all_sent, timeout=40)  # the next outbox job would run a minute after the first
    sent = sorted(str(call.params["channel"]) for call in fake_slack.calls_to("chat.postMessage"))
    assert sent == users  # each once
    assert {state for state, _ in await _states(sessions)} == {OutboxState.SENT}
    await engine.dispose()


async def test_two_drainers_together_keep_to_the_workspace_cap(
    sessions: Sessions, fake_slack: FakeSlack, make_settings: SettingsFactory
) -> None:
    """Slack caps chat.postMessage per workspace, whatever the channel: two drainers sending DMs to 8
    people (no channel's own limit in play) are never refused, and take the time the cap needs."""
    users = [f"U{index}" for index in range(8)]
    for user in users:
        fake_slack.add_user(user)
    fake_slack.limit_workspace_rate(per_minute=120, burst=2)  # 2 a second
    settings = make_settings(slack_messages_per_minute=120)
    await _enqueue(sessions, FrozenClock(datetime.now(UTC)), [("social_connected", user) for user in users])
    began = time.monotonic()
    await asyncio.gather(*(jobs.drain(_ctx(settings, sessions, SystemClock())) for _ in range(2)))
    assert fake_slack.refused == {}  # never over the cap
    assert sorted(str(call.params["channel"]) for call in fake_slack.calls_to("chat.postMessage")) == users
    assert time.monotonic() - began >= 2.5  # 2 at once, then 6 at 2 a second
    assert {state for state, _ in await _states(sessions)} == {OutboxState.SENT}


async def test_a_429_puts_its_message_back_for_retry_after_and_the_others_go_on(
    sessions: Sessions, fake_slack: FakeSlack, make_settings: SettingsFactory
) -> None:
    """The clock's client does not wait out a 429 itself (that held the whole drain for Retry-After): the
    message comes back after it, and the next one goes at once."""
    for user in ("UA", "UB"):
        fake_slack.add_user(user)
    clock = FrozenClock(BOARD_TIME)
    await _enqueue(sessions, clock, [("social_connected", "UA"), ("social_connected", "UB")])
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=30)
    ctx = _ctx(make_settings(), sessions, clock)

    assert await jobs.drain(ctx) == 1

    assert [str(call.params["channel"]) for call in fake_slack.calls_to("chat.postMessage")] == ["UA", "UB"]
    assert await _states(sessions) == [(OutboxState.PENDING, 0), (OutboxState.SENT, 1)]
    async with sessions() as session:
        waiting = await session.get_one(OutboxMessage, 1)
        assert timedelta(seconds=30) <= waiting.next_attempt_at - clock.now() <= timedelta(seconds=37.5)
    clock.advance(timedelta(seconds=38))
    assert await jobs.drain(ctx) == 1
    assert await _states(sessions) == [(OutboxState.SENT, 1), (OutboxState.SENT, 1)]


async def test_a_message_slack_keeps_rate_limiting_is_never_given_up(
    sessions: Sessions, fake_slack: FakeSlack, make_settings: SettingsFactory
) -> None:
    """Being asked to wait is no failure of the message: more 429s in a row than `MAX_ATTEMPTS` still end
    with the message sent, once."""
    fake_slack.add_user("UA")
    clock = FrozenClock(BOARD_TIME)
    await _enqueue(sessions, clock, [("social_connected", "UA")])
    refusals = outbox.MAX_ATTEMPTS + 2
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1, times=refusals)
    ctx = _ctx(make_settings(), sessions, clock)
    for _ in range(refusals):
        assert await jobs.drain(ctx) == 0
        assert await _states(sessions) == [(OutboxState.PENDING, 0)]
        clock.advance(timedelta(seconds=2))
    assert await jobs.drain(ctx) == 1
    assert await _states(sessions) == [(OutboxState.SENT, 1)]
    assert len(fake_slack.calls_to("chat.postMessage")) == refusals + 1
