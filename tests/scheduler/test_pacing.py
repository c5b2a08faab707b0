"""Pacing per destination is shared by every drainer: the web process draining after each command and
the clock draining on its own, at the same time, together stay within Slack's per-channel limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from ipaddress import ip_network

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock, SystemClock
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import SlackDriver
from bot.services import outbox
from bot.web import create_app
from handlers.slack.notifier import SlackNotifier
from models import Delivery, OutboxMessage, OutboxState, Post
from scheduler import jobs
from tests.conftest import BOT_TOKEN, running
from tests.handlers.slack.driver import START, SettingsFactory, article_server, relais_app, setup_workspace
from tests.scheduler.test_jobs_cli import _env, _relais
from tests.scheduler.test_weekly import _member, _workspace

Sessions = async_sessionmaker[AsyncSession]


async def _queued(sessions: Sessions) -> int:
    """How many posts were queued into #news (each `/relais queue` makes one, or was refused)."""
    async with sessions() as session:
        return sum(
            channels == ["C0NEWS"] for channels in (await session.scalars(select(Post.channels))).all()
        )


async def _deliveries(sessions: Sessions) -> list[int]:
    async with sessions() as session:
        return sorted((await session.scalars(select(Delivery.post_id))).all())


async def test_ten_quick_queues_to_one_channel_get_no_refusal_from_slack_and_each_goes_once(
    make_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    setup_workspace(fake_slack)
    clock = FrozenClock(START)
    # Slack's limit for one channel: about one message a second, in bursts of 3, on the same clock.
    fake_slack.limit_channel_rate(burst=3, per_second=1.0, clock=lambda: clock.now().timestamp())
    the_clock = jobs.Context(
        sessions,
        {"slack": SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))},
        clock.now,
    )
    async with article_server() as article, relais_app(make_settings(), engine, clock, fake_slack) as slack:
        drains = []
        for i in range(10):
            await slack.command("UADMIN", f"queue <{article}/news-{i}> <#C0NEWS|news>")
            assert await _queued(sessions) == i + 1
            # The web process drains after each command; the clock drains at the same time.
            drains.append(asyncio.create_task(jobs.drain(the_clock)))
        await asyncio.gather(*drains)
        for _ in range(30):
            if len(await _deliveries(sessions)) == 10:
                break
            clock.advance(timedelta(seconds=1))
            await asyncio.gather(jobs.drain(the_clock), jobs.drain(the_clock))
        await slack.settle()
        assert fake_slack.limited == 0  # never a refusal
        assert await _deliveries(sessions) == list(range(1, 11))  # every post once
        assert len(fake_slack.messages["C0NEWS"]) == 10
        assert len(fake_slack.calls_to("chat.postMessage")) == 10  # nothing sent twice, nothing retried
        async with sessions() as session:
            states = (await session.scalars(select(OutboxMessage.state))).all()
            assert set(states) == {OutboxState.SENT}
        assert clock.now() - START >= timedelta(seconds=7)  # 3 at once, then one a second


async def test_the_web_process_and_a_relais_process_share_one_channel_s_pace(
    empty_database_url: str, make_settings: SettingsFactory, fake_slack: FakeSlack
) -> None:
    """Two real processes: `relais serve`'s app (here in the test's process, on the system clock) drains
    after each `/relais queue`, while `relais jobs run outbox` runs beside it on the same database. Slack
    enforces its per-channel limit on the real clock; the two together are never refused."""
    setup_workspace(fake_slack)
    fake_slack.limit_channel_rate(burst=3, per_second=1.0)
    env = _env(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    app = create_app(
        make_settings(database_url=empty_database_url),
        engine=engine,
        clock=SystemClock(),
        fetch_allowed_networks=(ip_network("127.0.0.2/32"),),
    )
    try:
        async with article_server() as article, running(app) as client:
            slack = SlackDriver(client, fake_slack)
            other: list[asyncio.Task[tuple[int, str, str]]] = []
            for i in range(10):
                await slack.command("UADMIN", f"queue <{article}/news-{i}> <#C0NEWS|news>")
                assert await _queued(sessions) == i + 1
                if i % 3 == 0:  # the other process drains while the web process keeps queueing
                    other.append(asyncio.create_task(_relais("jobs", "run", "outbox", **env)))
            results = await asyncio.gather(*other)
            assert all(code == 0 for code, _, _ in results), results
            for _ in range(100):
                if len(await _deliveries(sessions)) == 10:
                    break
                await asyncio.sleep(0.2)
                await asyncio.gather(
                    _relais("jobs", "run", "outbox", **env), jobs.drain(_web_context(sessions, fake_slack))
                )
    finally:
        await engine.dispose()
    assert fake_slack.limited == 0  # never a refusal
    assert sorted(await _deliveries(sessions)) == list(range(1, 11))  # every post once
    assert len(fake_slack.calls_to("chat.postMessage")) == 10  # nothing sent twice, nothing retried


def _web_context(sessions: Sessions, fake_slack: FakeSlack) -> jobs.Context:
    notifier = SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
    return jobs.Context(sessions, {"slack": notifier}, SystemClock().now)


async def test_a_slot_freed_by_time_is_taken_a_moment_later_so_slack_never_gets_it_too_soon(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    """Why the test above failed now and then: messages reach Slack some time after a drainer sends them,
    not all equally late. A burst that took 80 ms to arrive, then a message enqueued and sent the instant
    its slot freed up and arriving at once, were 0.92 s apart at Slack: refused. A slot freed by time is
    now taken `outbox.JITTER` after it frees up (and the last of a burst goes that much after the
    others), more than the difference between two messages' ways to Slack."""
    fake_slack.add_channel("C0NEWS", "news")
    clock = FrozenClock(START)
    lag = 0.08  # how long the messages take to reach Slack, read by Slack's own clock
    fake_slack.limit_channel_rate(burst=3, per_second=1.0, clock=lambda: clock.now().timestamp() + lag)
    ctx = _web_context(sessions, fake_slack)
    ctx = jobs.Context(sessions, ctx.notifiers, clock.now)

    async def enqueue(index: int) -> None:
        async with sessions() as session:
            if index == 0:
                workspace = await _workspace(session)
                session.add(_member(workspace, "UADMIN", is_admin=True))
            await outbox.enqueue(
                session,
                workspace_id=1,
                kind="admin_alert",
                destination="C0NEWS",
                payload={"channel": "C0NEWS", "error": "is_archived", "lang": "en"},
                now=clock.now(),
                dedupe_key=f"alert:{index}",
            )
            await session.commit()

    for index in range(3):
        await enqueue(index)
    for _ in range(3):
        await jobs.drain(ctx)
        clock.advance(outbox.JITTER)
    assert len(fake_slack.calls_to("chat.postMessage")) == 3  # the burst
    clock.set(START + timedelta(seconds=1))  # the burst's first slot is free again
    lag = 0.0
    await enqueue(3)
    for _ in range(3):
        await jobs.drain(ctx)
        clock.advance(outbox.JITTER)
    assert fake_slack.limited == 0
    assert len(fake_slack.messages["C0NEWS"]) == 4
