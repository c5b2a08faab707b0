"""Scheduled publishing and expiry: the `publish` job with a controlled clock, and `relais clock` for real."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.messages import Link, Section, Strong
from models import Delivery, Member, OutboxMessage, OutboxState, Platform, Post, PostState, Workspace
from scheduler import jobs
from tests.conftest import BOT_TOKEN
from tests.fakes.notifier import RecordingNotifier
from tests.handlers.slack.driver import START, eventually

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]


async def seed(sessions: Sessions) -> None:
    async with sessions() as session:
        workspace = Workspace(
            platform=Platform.SLACK, external_id="T0001", created_at=CREATED, updated_at=CREATED
        )
        session.add(workspace)
        await session.flush()
        admin = Member(
            workspace_id=workspace.id,
            external_id="UADMIN",
            locale="fr-FR",
            created_at=CREATED,
            updated_at=CREATED,
        )
        session.add(admin)
        await session.flush()
        session.add_all(
            [
                Post(
                    workspace_id=workspace.id,
                    url="https://example.com/soon",
                    title="Soon",
                    captions=["Now!"],
                    networks=["linkedin", "x"],
                    channels=["C0NEWS"],
                    state=PostState.SCHEDULED,
                    publish_at=START + timedelta(minutes=30),
                    created_by_id=admin.id,
                    created_at=CREATED,
                    updated_at=CREATED,
                ),
                Post(
                    workspace_id=workspace.id,
                    url="https://example.com/old",
                    title="Old",
                    networks=["x"],
                    channels=["C0NEWS"],
                    state=PostState.PUBLISHED,
                    publish_at=START - timedelta(days=9),
                    expires_at=START + timedelta(minutes=10),
                    created_by_id=admin.id,
                    created_at=CREATED,
                    updated_at=CREATED,
                ),
            ]
        )
        await session.flush()
        session.add(
            Delivery(
                workspace_id=workspace.id,
                post_id=2,
                destination="C0NEWS",
                message_id="1.0002",
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        await session.commit()


async def test_a_scheduled_post_publishes_at_its_minute_not_before_and_expiry_removes_buttons(
    sessions: Sessions,
) -> None:
    await seed(sessions)
    clock = FrozenClock(START)
    recorder = RecordingNotifier()
    ctx = jobs.Context(sessions, {"slack": recorder}, clock.now)

    assert await jobs.publish(ctx) == ([], [])
    clock.advance(timedelta(minutes=10))
    assert await jobs.publish(ctx) == ([], [2])
    [update] = recorder.sent
    assert (update.kind, update.destination, update.payload["message_id"]) == (
        "post_update",
        "C0NEWS",
        "1.0002",
    )
    assert update.actions == []  # no share button any more
    assert "Cette publication a expiré." in update.body  # the author's language

    clock.advance(timedelta(minutes=19, seconds=59))
    assert await jobs.publish(ctx) == ([], [])
    clock.advance(timedelta(seconds=1))
    assert await jobs.publish(ctx) == ([1], [])
    assert await jobs.publish(ctx) == ([], [])  # never twice
    [pushed] = recorder.of_kind("post")
    assert pushed.destination == "C0NEWS"
    assert "Partager sur LinkedIn" in pushed.body  # the admin's language
    async with sessions() as session:
        post = await session.get_one(Post, 1)
        assert post.state is PostState.PUBLISHED
        assert post.published_at == START + timedelta(minutes=30)
        assert (
            await session.scalars(select(Delivery).where(Delivery.post_id == 1))
        ).one().destination == "C0NEWS"


async def test_two_clocks_publishing_at_once_push_once(sessions: Sessions) -> None:
    await seed(sessions)
    clock = FrozenClock(START + timedelta(hours=1))
    recorder = RecordingNotifier()
    results = await asyncio.gather(
        *(jobs.publish(jobs.Context(sessions, {"slack": recorder}, clock.now)) for _ in range(2))
    )
    assert sorted(published for published, _ in results) == [[], [1]]
    assert [sent.destination for sent in recorder.of_kind("post")] == ["C0NEWS"]


async def test_a_long_title_is_shortened_as_typed_text(sessions: Sessions) -> None:
    """A title over 200 characters shows its first 199 and an ellipsis, whatever it contains: an `&` in it
    is an ordinary character (it used to cut the title at its last `&`, leaving "Tom…"). How Slack shows
    it, escaped once after the shortening: tests/handlers/slack/test_outbox_on_slack.py."""
    await seed(sessions)
    title = "Tom & Jerry " + "t" * 300
    async with sessions() as session:
        (await session.get_one(Post, 1)).title = title
        await session.commit()
    recorder = RecordingNotifier()
    clock = FrozenClock(START + timedelta(hours=1))
    published, _ = await jobs.publish(jobs.Context(sessions, {"slack": recorder}, clock.now))
    assert published == [1]
    [pushed] = recorder.of_kind("post")
    [section, *_] = pushed.message.parts
    assert isinstance(section, Section)
    assert section.text == Strong(Link("https://example.com/soon", title[:199] + "…"))


async def test_relais_clock_publishes_what_is_due_and_stops_on_sigterm(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    from tests.bot.test_cli import _environment
    from tests.scheduler.clock_process import relais_clock

    fake_slack.add_channel("C0NEWS", "news")
    environment = _environment(
        DATABASE_URL=empty_database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="secret",
        SLACK_API_URL=fake_slack.api_url,
    )
    engine, sessions = await _migrated_with_a_due_post(empty_database_url, environment)

    async with relais_clock(environment):
        # The push to #news (on some real dates the weekly reminders go out in the same pass, so it is
        # not necessarily the first message).
        async def pushed_to_news() -> bool:
            return any(c.params["channel"] == "C0NEWS" for c in fake_slack.calls_to("chat.postMessage"))

        await eventually(pushed_to_news, timeout=20)
        await fake_slack.wait_for_calls("chat.update", timeout=20)  # the expired post
    async with sessions() as session:
        assert (await session.get_one(Post, 1)).state is PostState.PUBLISHED
        assert (await session.get_one(Post, 2)).state is PostState.EXPIRED
    await engine.dispose()


async def test_relais_clock_runs_without_any_chat_platform_and_keeps_the_messages(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """No Slack setting (a Teams-only deployment, or one not connected yet): the clock still publishes
    what is due, and the chat messages wait in the outbox for a platform to send them."""
    from tests.bot.test_cli import _environment
    from tests.scheduler.clock_process import relais_clock

    environment = _environment(DATABASE_URL=empty_database_url, SLACK_API_URL=fake_slack.api_url)
    engine, sessions = await _migrated_with_a_due_post(empty_database_url, environment)

    async with relais_clock(environment) as clock:
        async with asyncio.timeout(20):
            while True:
                assert clock.returncode is None, "relais clock exited early"
                async with sessions() as session:
                    if (await session.get_one(Post, 1)).state is PostState.PUBLISHED:
                        break
                await asyncio.sleep(0.1)
    async with sessions() as session:
        waiting = (await session.scalars(select(OutboxMessage.state))).all()
    assert waiting
    assert set(waiting) == {OutboxState.PENDING}
    assert fake_slack.calls_to("chat.postMessage") == []
    await engine.dispose()


async def _migrated_with_a_due_post(
    database_url: str, environment: dict[str, str]
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """The database migrated by the real `relais migrate`, seeded, with the scheduled post due now (the
    clock reads the real time)."""
    from tests.bot.test_cli import RELAIS

    migrated = await asyncio.create_subprocess_exec(RELAIS, "migrate", env=environment)
    assert await migrated.wait() == 0
    engine = db.create_engine(database_url)
    sessions = db.session_factory(engine)
    await seed(sessions)
    async with sessions() as session:
        post = await session.get_one(Post, 1)
        post.publish_at = START - timedelta(days=365)
        await session.commit()
    return engine, sessions
