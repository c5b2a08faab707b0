"""The three buttons that record something before the ack (opening the personal share link, Share with a
connected account, Not for me) against what follows the ack: the record is on disk when Slack gets its
200, and the work after the acks, bounded (`HotCache.after_ack`), still answers every member once."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services.hotpath import AfterAck
from bot.web import DEPS_KEY, create_app
from models import Delivery, Dismissal, Member, Share
from tests.conftest import running
from tests.handlers.slack.driver import SettingsFactory, SlackDriver, eventually, setup_workspace

Sessions = async_sessionmaker[AsyncSession]
THANKS = "Thanks! Your share on X is counted."


async def _count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int((await session.scalar(select(func.count()).select_from(model).where(*where))) or 0)


async def _queue(slack: SlackDriver, sessions: Sessions, article: str) -> None:
    await slack.command("UADMIN", f"queue <{article}/launch> <#C0NEWS|news>")

    async def delivered() -> bool:
        return await _count(sessions, Delivery) == 1

    await eventually(delivered)


async def test_not_for_me_is_on_disk_when_slack_gets_the_ack(
    slack: SlackDriver, article: str, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    """Slack never resends a click: Not for me is recorded before the ack, even when the directory (the
    member's profile, read for the answer's language) is slow to answer."""
    await _queue(slack, sessions, article)
    fake_slack.delay("users.info", 1.0)
    sent = await slack.click("UEMP3", "not_for_me", "1")
    assert sent.status == 200
    assert await _count(sessions, Dismissal) == 1  # at the ack, before any answer
    [answer] = await slack.responses(sent.url_id, timeout=5)
    assert answer["text"].startswith("Noted")


async def test_bounded_after_ack_work_answers_every_member_once(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    article: str,
    sessions: Sessions,
) -> None:
    """One click at a time after the acks (a bound of 1): twelve first contacts clicking at once are all
    acked with their share on disk, then each thanked exactly once."""
    setup_workspace(fake_slack)
    app = create_app(
        make_settings(), engine=engine, clock=clock, fetch_allowed_networks=(ip_network("127.0.0.2/32"),)
    )
    app[DEPS_KEY].cache.after_ack = AfterAck(1)
    async with running(app) as client:
        slack = SlackDriver(client, fake_slack)
        await _queue(slack, sessions, article)
        users = [f"UBURST{n}" for n in range(12)]
        for user in users:
            fake_slack.add_user(user, real_name=user, tz="Europe/Paris")
        fake_slack.delay("users.info", 0.05)
        sent = await asyncio.gather(*(slack.click(user, "open_share_x", "1:x") for user in users))
        assert [s.status for s in sent] == [200] * len(users)
        members = select(Member.id).where(Member.external_id.in_(users))
        assert await _count(sessions, Share, Share.member_id.in_(members)) == len(users)  # at the acks
        for s in sent:
            assert [r["text"] for r in await slack.responses(s.url_id, timeout=10)] == [THANKS]
        await slack.settle(0.3)
        assert [len(fake_slack.responses_to(s.url_id)) for s in sent] == [1] * len(users)
