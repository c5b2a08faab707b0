"""Pacing per destination is shared by every drainer: the web process draining after each command and
the clock draining on its own, at the same time, together stay within Slack's per-channel limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from handlers.slack.notifier import SlackNotifier
from models import Delivery, OutboxMessage, OutboxState
from scheduler import jobs
from tests.conftest import BOT_TOKEN
from tests.handlers.slack.driver import START, SettingsFactory, article_server, relais_app, setup_workspace

Sessions = async_sessionmaker[AsyncSession]


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
        sessions, SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)), clock.now
    )
    async with article_server() as article, relais_app(make_settings(), engine, clock, fake_slack) as slack:
        drains = []
        for i in range(10):
            reply = await slack.command("UADMIN", f"queue <{article}/news-{i}> <#C0NEWS|news>")
            assert f"Post #{i + 1} " in reply["text"]
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
