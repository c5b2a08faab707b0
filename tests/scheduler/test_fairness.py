"""Many workspaces from one deployment: the outbox drains each workspace in its own lane, so one
workspace's big round never holds another's channel push behind it (neither behind its rows nor behind
its workspace-wide pace), and every message still goes exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock, SystemClock
from bot.demo.fake_slack import FakeSlack
from bot.notifier import Delivered
from bot.services import outbox
from bot.services import posts as post_service
from models import Delivery, OutboxMessage, OutboxState, Platform, Post, PostState, Workspace
from scheduler import jobs
from tests.bot.test_cli import _environment
from tests.fakes.notifier import RecordingNotifier
from tests.handlers.slack.driver import SettingsFactory, eventually
from tests.scheduler.clock_process import relais_clock
from tests.scheduler.test_fanout import _ctx
from tests.scheduler.test_jobs_cli import _env, _relais
from tests.scheduler.test_weekly import CREATED

Sessions = async_sessionmaker[AsyncSession]

CHANNEL_B = "C0BNEWS"


async def _two_workspaces(sessions: Sessions, fake_slack: FakeSlack, round_size: int) -> list[str]:
    """Workspace A (id 1) with a round of `round_size` private messages due, and workspace B (id 2) with
    a post not yet published to its channel; A's members' ids."""
    users = [f"UA{index:04d}" for index in range(round_size)]
    for user in users:
        fake_slack.add_user(user)
    fake_slack.add_channel(CHANNEL_B, "b-news")
    async with sessions() as session:
        for team in ("TA", "TB"):
            session.add(
                Workspace(
                    platform=Platform.SLACK,
                    external_id=team,
                    timezone="Europe/Paris",
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
        await session.flush()
        session.add(
            Post(
                workspace_id=2,
                url="https://example.com/b",
                title="B's news",
                captions=["B!"],
                networks=["linkedin"],
                channels=[CHANNEL_B],
                state=PostState.DRAFT,
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        await outbox.enqueue_many(
            session,
            workspace_id=1,
            kind="social_connected",
            messages=[(user, {"network": "x", "lang": "en"}, f"round:{user}") for user in users],
            now=datetime.now(UTC),
            round_key="round:a",
        )
        await session.commit()
    return users


async def _push_b(sessions: Sessions) -> None:
    """B's post goes out to B's channel: enqueued after A's whole round."""
    async with sessions() as session:
        post = await session.get_one(Post, 1)
        await post_service.publish(session, post=post, now=datetime.now(UTC), lang="en")
        await session.commit()


def _sent_to(fake_slack: FakeSlack) -> list[str]:
    return [str(call.params["channel"]) for call in fake_slack.calls_to("chat.postMessage")]


async def _check_each_once(sessions: Sessions, fake_slack: FakeSlack, users: list[str]) -> None:
    """Every message went once, and B's push is B's delivery."""
    assert sorted(_sent_to(fake_slack)) == sorted([*users, CHANNEL_B])
    async with sessions() as session:
        states = (await session.scalars(select(OutboxMessage.state))).all()
        assert set(states) == {OutboxState.SENT}
        assert len(states) == len(users) + 1
        deliveries = (await session.scalars(select(Delivery))).all()
    assert [(d.workspace_id, d.post_id, d.destination) for d in deliveries] == [(2, 1, CHANNEL_B)]


async def test_a_channel_push_goes_out_in_the_first_pass_despite_another_workspace_s_big_round(
    sessions: Sessions, fake_slack: FakeSlack, make_settings: SettingsFactory
) -> None:
    """A's round is more than a pass (200 a workspace); B's push, enqueued after all of it, goes out in
    the clock's first pass, long before A's round is half done. The other passes send the rest."""
    users = await _two_workspaces(sessions, fake_slack, round_size=260)
    await _push_b(sessions)
    ctx = _ctx(make_settings(slack_messages_per_minute=60000), sessions, SystemClock())

    await jobs.drain(ctx)

    sent = _sent_to(fake_slack)
    assert CHANNEL_B in sent
    assert sent.index(CHANNEL_B) < len(users) // 2
    for _ in range(5):
        await jobs.drain(ctx)
    await _check_each_once(sessions, fake_slack, users)


async def test_relais_clock_pushes_to_a_channel_while_another_workspace_s_round_waits_for_its_pace(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """`relais clock` is sending A's round of 100 at Slack's workspace pace (10 a second here, so about
    ten seconds); B's post is published once A's first messages have gone: it reaches B's channel while
    most of A's round is still waiting (A's pace is A's own), and nothing is lost or sent twice."""
    env = {**_env(empty_database_url, fake_slack), "SLACK_MESSAGES_PER_MINUTE": "600"}
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    users = await _two_workspaces(sessions, fake_slack, round_size=100)
    async with relais_clock(_environment(**env)):

        async def a_started() -> bool:
            return len(_sent_to(fake_slack)) >= 1

        await eventually(a_started, timeout=30)
        await _push_b(sessions)

        async def b_pushed() -> bool:
            return CHANNEL_B in _sent_to(fake_slack)

        await eventually(b_pushed, timeout=30)
        assert _sent_to(fake_slack).index(CHANNEL_B) < len(users) // 2  # A's round is not half done

        async def all_sent() -> bool:
            return len(_sent_to(fake_slack)) >= len(users) + 1

        await eventually(all_sent, timeout=60)
    await _check_each_once(sessions, fake_slack, users)
    await engine.dispose()


async def test_a_stopped_drain_claims_nothing_more_in_any_workspace(
    sessions: Sessions, fake_slack: FakeSlack, make_settings: SettingsFactory
) -> None:
    """A drain whose `stop` is already set opens no lane: nothing is claimed, in either workspace."""
    await _two_workspaces(sessions, fake_slack, round_size=3)
    await _push_b(sessions)
    ctx = _ctx(make_settings(), sessions, FrozenClock(datetime.now(UTC)))
    stop = asyncio.Event()
    stop.set()
    assert await outbox.drain(ctx.sessions, notifiers=ctx.notifiers, now=ctx.sending_now, stop=stop) == 0
    assert _sent_to(fake_slack) == []
    async with sessions() as session:
        assert set((await session.scalars(select(OutboxMessage.state))).all()) == {OutboxState.PENDING}


class CountingNotifier(RecordingNotifier):
    """Records what it sends, and the most sends it had under way at once (each takes a moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.under_way = 0
        self.most_at_once = 0

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        self.under_way += 1
        self.most_at_once = max(self.most_at_once, self.under_way)
        try:
            await asyncio.sleep(0.002)  # a platform's answer takes a moment: other lanes run meanwhile
            return await super().send(
                kind=kind, destination=destination, payload=payload, workspace_id=workspace_id
            )
        finally:
            self.under_way -= 1


SMALL_WORKSPACES = 20
ROUND = 60


async def _many_workspaces(sessions: Sessions) -> None:
    """Workspace 1 with a round of `ROUND` private messages, then `SMALL_WORKSPACES` workspaces each with
    one channel message, all due at once."""
    async with sessions() as session:
        for index in range(1 + SMALL_WORKSPACES):
            session.add(
                Workspace(
                    platform=Platform.SLACK,
                    external_id=f"T{index:03d}",
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
        await session.flush()
        await outbox.enqueue_many(
            session,
            workspace_id=1,
            kind="social_connected",
            messages=[(f"U{user:03d}", {"network": "x", "lang": "en"}, f"r:{user}") for user in range(ROUND)],
            now=CREATED,
        )
        for workspace_id in range(2, 2 + SMALL_WORKSPACES):
            await outbox.enqueue(
                session,
                workspace_id=workspace_id,
                kind="social_connected",
                destination=CHANNEL_B,
                payload={"network": "x", "lang": "en"},
                now=CREATED,
            )
        await session.commit()


async def test_a_drain_runs_no_more_lanes_than_its_pool_holds_and_takes_workspaces_in_turn(
    sessions: Sessions, database_url: str
) -> None:
    """21 workspaces due at once, through a database pool of 2 connections: never more than 2 lanes send at
    once (unbounded, each workspace had its own lane, each queueing for a connection), and the big round
    of workspace 1 goes a turn at a time: all 20 others' messages are sent before its third turn."""
    await _many_workspaces(sessions)
    small = db.create_engine(database_url, pool_size=2, max_overflow=0)
    notifier = CountingNotifier()
    try:
        sent = await outbox.drain(
            db.session_factory(small), notifiers={"slack": notifier}, now=FrozenClock(CREATED).now
        )
    finally:
        await small.dispose()

    assert notifier.most_at_once == 2
    assert sent == ROUND + SMALL_WORKSPACES
    order = [message.workspace_id for message in notifier.sent]
    assert sorted(order[: 2 * outbox.TURN + SMALL_WORKSPACES]) == [1] * 2 * outbox.TURN + list(
        range(2, 2 + SMALL_WORKSPACES)
    )
    assert sorted((m.workspace_id, m.destination) for m in notifier.sent) == sorted(
        [(1, f"U{user:03d}") for user in range(ROUND)]
        + [(workspace_id, CHANNEL_B) for workspace_id in range(2, 2 + SMALL_WORKSPACES)]
    )
    async with sessions() as session:
        assert set((await session.scalars(select(OutboxMessage.state))).all()) == {OutboxState.SENT}
