"""The outbox against a fake Slack that enforces rate limits and fails on purpose: one message a
second per channel, 429s and 5xx retried later, people who left skipped, unusable channels reported to
the admins once; every recipient gets each message once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services import outbox
from handlers.slack.app import build_web_client
from handlers.slack.notifier import SlackNotifier
from models import Member, OutboxMessage, OutboxState
from scheduler import jobs
from tests.conftest import BOT_TOKEN
from tests.scheduler.test_weekly import BOARD_TIME, _member, _workspace

Sessions = async_sessionmaker[AsyncSession]


def _alert(channel: str) -> dict[str, object]:
    return {"channel": channel, "error": "is_archived", "lang": "en"}


async def _enqueue(sessions: Sessions, clock: FrozenClock, rows: list[tuple[str, str]]) -> None:
    """(kind, destination) rows with a small payload every kind here renders."""
    async with sessions() as session:
        if await session.get(Member, 1) is None:
            workspace = await _workspace(session)
            session.add(_member(workspace, "UADMIN", is_admin=True))
            session.add(_member(workspace, "ULEFT"))
            await session.flush()
        for i, (kind, destination) in enumerate(rows):
            await outbox.enqueue(
                session,
                workspace_id=1,
                kind=kind,
                destination=destination,
                payload=_alert(f"C{i}") if kind == "admin_alert" else {"network": "x", "lang": "en"},
                now=clock.now(),
                dedupe_key=f"test:{destination}:{i}",
            )
        await session.commit()


def _ctx(sessions: Sessions, fake: FakeSlack, clock: FrozenClock) -> jobs.Context:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    return jobs.Context(sessions, SlackNotifier(client), clock.now)


async def test_one_message_a_second_per_channel_in_short_bursts_and_no_one_waits_for_others(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0NEWS", "news")
    fake_slack.limit_channel_rate(burst=3, per_second=1.0)
    for user in ("UA", "UB", "UC"):
        fake_slack.add_user(user)
    clock = FrozenClock(BOARD_TIME)
    await _enqueue(
        sessions,
        clock,
        [("admin_alert", "C0NEWS")] * 5 + [("social_connected", u) for u in ("UA", "UB", "UC")],
    )
    await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
    sent = [str(c.params["channel"]) for c in fake_slack.calls_to("chat.postMessage")]
    assert sorted(sent) == ["C0NEWS"] * 3 + ["UA", "UB", "UC"]  # a burst of 3; the channel's next two wait
    async with sessions() as session:
        waiting = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING))
        ).all()
        assert [m.next_attempt_at - clock.now() for m in waiting] == [timedelta(seconds=1.1)] * 2
        assert {m.attempts for m in waiting} == {0}
    clock.advance(timedelta(seconds=3))
    await asyncio.sleep(2)  # the fake Slack counts on the real clock
    await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
    sent = [str(c.params["channel"]) for c in fake_slack.calls_to("chat.postMessage")]
    assert sent.count("C0NEWS") == 5
    assert len(sent) == 8
    assert fake_slack.limited == 0  # never over Slack's limit


async def test_429_and_5xx_are_retried_later_and_each_message_is_sent_once(
    sessions: Sessions, fake_slack: FakeSlack, make_settings: object
) -> None:
    for user in ("UA", "UB"):
        fake_slack.add_user(user)
    clock = FrozenClock(BOARD_TIME)
    await _enqueue(sessions, clock, [("social_connected", "UA"), ("social_connected", "UB")])
    # Slack says 429 three times (the client itself retries twice, honouring Retry-After), then a 500.
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=3)
    fake_slack.fail_next("chat.postMessage", status=500, times=1)
    settings = make_settings()  # type: ignore[operator]
    ctx = jobs.Context(sessions, SlackNotifier(build_web_client(settings)), clock.now)
    await jobs.run_job(ctx, "outbox")
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [r.state for r in rows] == [OutboxState.PENDING, OutboxState.PENDING]
        assert all(r.next_attempt_at > clock.now() for r in rows)
    delivered = list(fake_slack.calls_to("chat.postMessage"))
    assert len(delivered) == 4  # three 429s for the first, one 500 for the second; nothing went out
    clock.advance(timedelta(minutes=1))
    await jobs.run_job(ctx, "outbox")
    await jobs.run_job(ctx, "outbox")
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [r.state for r in rows] == [OutboxState.SENT, OutboxState.SENT]
    assert [str(c.params["channel"]) for c in fake_slack.calls_to("chat.postMessage")][4:] == ["UA", "UB"]


async def test_the_fake_enforces_the_channel_limit_and_the_client_honours_retry_after(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.add_channel("C0NEWS", "news")
    fake_slack.limit_channel_rate(burst=2, per_second=1.0)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    statuses = []
    for _ in range(3):
        try:
            await client.chat_postMessage(channel="C0NEWS", text="hi")
            statuses.append(200)
        except Exception:
            statuses.append(429)
    assert statuses == [200, 200, 429]
    assert fake_slack.limited == 1


async def test_people_who_left_are_skipped_and_archived_channels_reported_once(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UADMIN", is_admin=True)
    fake_slack.add_user("ULEFT", deleted=True)
    fake_slack.add_channel("C0OLD", "old", is_archived=True)
    clock = FrozenClock(BOARD_TIME)
    await _enqueue(
        sessions,
        clock,
        [("social_connected", "ULEFT"), ("admin_alert", "C0OLD"), ("social_connected", "C0OLD")],
    )
    for _ in range(3):
        await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
        clock.advance(timedelta(minutes=5))
    async with sessions() as session:
        left = (await session.scalars(select(Member).where(Member.external_id == "ULEFT"))).one()
        assert left.active is False
        states = {
            (m.kind, m.destination): m.state for m in (await session.scalars(select(OutboxMessage))).all()
        }
    assert states[("social_connected", "ULEFT")] is OutboxState.FAILED
    assert states[("social_connected", "C0OLD")] is OutboxState.FAILED
    # The admin heard once about the archived channel (an alert about an alert is never sent).
    to_admin = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UADMIN"]
    assert len(to_admin) == 1
    assert "I could not post in <#C0OLD>: the channel is archived" in str(to_admin[0].params["text"])
    # Nothing failed is tried again.
    calls = len(fake_slack.calls_to("chat.postMessage"))
    clock.advance(timedelta(hours=1))
    await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
    assert len(fake_slack.calls_to("chat.postMessage")) == calls
