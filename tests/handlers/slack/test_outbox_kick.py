"""A Slack request sends what waits in its own workspace only: the drain a command starts once it has
answered covers the command's workspace, and leaves every other workspace's messages to the clock (with
many workspaces, each request drained them all)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services import outbox
from models import Delivery, OutboxMessage, OutboxState, Platform, Workspace
from scheduler import jobs
from tests.handlers.slack.driver import START, SettingsFactory, SlackDriver, eventually
from tests.scheduler.test_fanout import _ctx

Sessions = async_sessionmaker[AsyncSession]
OTHER_TEAM = "T0OTHER"
OTHER_MEMBER = "UOTHER"


async def _other_workspace_with_a_message_due(sessions: Sessions) -> None:
    """Another Slack workspace, served by the same deployment, with a private message due now."""
    async with sessions() as session:
        session.add(
            Workspace(platform=Platform.SLACK, external_id=OTHER_TEAM, created_at=START, updated_at=START)
        )
        await session.flush()
        await outbox.enqueue(
            session,
            workspace_id=1,
            kind="social_connected",
            destination=OTHER_MEMBER,
            payload={"network": "x", "lang": "en"},
            now=START,
        )
        await session.commit()


def _dms_to(fake: FakeSlack, member: str) -> int:
    return sum(1 for call in fake.calls_to("chat.postMessage") if call.params["channel"] == member)


async def test_a_command_sends_its_own_workspace_s_push_and_leaves_another_s_message_to_the_clock(
    slack: SlackDriver,
    article: str,
    sessions: Sessions,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    make_settings: SettingsFactory,
) -> None:
    """Another workspace has a message due; an admin queues a post in this one: the post reaches #news
    at once, the other workspace's message stays waiting, and the clock's drain sends it, once."""
    fake_slack.add_user(OTHER_MEMBER)
    await _other_workspace_with_a_message_due(sessions)

    reply = await slack.command("UADMIN", f"queue <{article}/launch> <#C0NEWS|news>")
    assert "is being published" in reply["text"], reply

    async def pushed() -> bool:
        async with sessions() as session:
            return bool(await session.scalar(select(func.count()).select_from(Delivery)))

    await eventually(pushed)
    await slack.settle(0.5)  # the drain the command started is over
    assert _dms_to(fake_slack, OTHER_MEMBER) == 0
    async with sessions() as session:
        waiting = await session.scalars(select(OutboxMessage.state).where(OutboxMessage.workspace_id == 1))
        assert list(waiting) == [OutboxState.PENDING]

    assert await jobs.drain(_ctx(make_settings(), sessions, clock)) == 1
    assert _dms_to(fake_slack, OTHER_MEMBER) == 1
    async with sessions() as session:
        sent = await session.scalars(select(OutboxMessage.state).where(OutboxMessage.workspace_id == 1))
        assert list(sent) == [OutboxState.SENT]
