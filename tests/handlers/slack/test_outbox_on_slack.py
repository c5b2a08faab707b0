"""The outbox's messages as Slack takes them, driven through the running app or the jobs against the
fake Slack: a channel that refuses a post (announcement-only: Slack's `restricted_action`) as the admin
reads it in Slack (the queue reply, `/relais list`, `/relais stats`, in their language); a dead bot token
during a command; every message within Slack's size limits, escaped once. The rules behind them (what is
reported, to whom, once; what the core's messages hold) are checked without Slack in tests/scheduler/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.messages import plain_text
from bot.messages.outbox import message_for
from handlers.slack.blocks.fit import text_objects
from handlers.slack.notifier import SlackNotifier
from models import Delivery, Member, OutboxMessage, OutboxState, Post, PostState
from scheduler import jobs
from tests.conftest import BOT_TOKEN
from tests.handlers.slack.driver import (
    START,
    SettingsFactory,
    SlackDriver,
    article_server,
    eventually,
    relais_app,
    setup_workspace,
)
from tests.scheduler.test_delivery import seed_three_long_posts
from tests.scheduler.test_publish import seed
from tests.scheduler.test_weekly import NUDGE_TIME

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]


def _ctx(sessions: Sessions, fake: FakeSlack, clock: FrozenClock) -> jobs.Context:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    return jobs.Context(sessions, {"slack": SlackNotifier(client)}, clock.now)


# ---------------------------------------------------------------------------------------------------
# A channel that refuses a post (moved from tests/scheduler/test_delivery.py)


async def _rows(sessions: Sessions, kind: str) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


def _shown(row: OutboxMessage) -> str:
    """What an outbox row says, as plain text (its neutral message, whatever the platform)."""
    message = message_for(row.kind, row.payload)
    assert message is not None
    return plain_text(message.summary)


async def _dm_texts(fake: FakeSlack, user: str) -> list[str]:
    return [str(c.params["text"]) for c in fake.calls_to("chat.postMessage") if c.params["channel"] == user]


async def _refused_post(
    slack: SlackDriver, sessions: Sessions, article: str, admin: str = "UADMIN"
) -> dict[str, Any]:
    """`admin` queues a link into #news and the announcement-only #announcements; returns their reply
    once the refusal was reported to them."""
    slack.fake.add_channel("C0ANN", "announcements", announcement_only=True)
    reply = await slack.command(admin, f"queue <{article}/launch> <#C0NEWS|news> <#C0ANN|announcements>")

    async def told() -> bool:
        return bool(await _dm_texts(slack.fake, admin))

    await eventually(told)
    return reply


async def test_a_channel_that_refuses_a_post_is_reported_to_its_admin_and_shown_not_delivered(
    make_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    setup_workspace(fake_slack)
    async with (
        article_server() as article,
        relais_app(make_settings(), engine, FrozenClock(START), fake_slack) as slack,
    ):
        reply = await _refused_post(slack, sessions, article)
        # Nothing said "published" before Slack accepted it.
        assert reply["text"] == (
            "Post #1 is being published in <#C0NEWS>, <#C0ANN>. I'll tell you if a channel refuses it."
        )
        [refusal] = await _rows(sessions, "post_refused")
        assert (refusal.destination, refusal.state) == ("UADMIN", OutboxState.SENT)
        assert _shown(refusal) == (
            "Post #1 was not published in #C0ANN: posting there is restricted (an announcement-only channel, "
            "for instance). Ask whoever manages the channel to let Relais post there, or queue the post into "
            "another channel."
        )
        assert len(await _dm_texts(fake_slack, "UADMIN")) == 1
        assert [m["ts"] for m in fake_slack.messages["C0ANN"]] == []
        async with sessions() as session:
            deliveries = (await session.scalars(select(Delivery))).all()
            assert [d.destination for d in deliveries] == ["C0NEWS"]
            refused = (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.destination == "C0ANN"))
            ).one()
            assert (refused.state, refused.last_error) == (OutboxState.FAILED, "restricted_action")
            post = (await session.scalars(select(Post))).one()
            assert post.state is PostState.PUBLISHED  # it is, in #news

        listed = await slack.command("UADMIN", "list")
        assert "`#1` published" in listed["text"]
        assert "not delivered to <#C0ANN> (restricted_action)" in listed["text"]
        assert "<#C0NEWS>" not in listed["text"]  # delivered there: nothing to say
        for command in ("stats 1", "stats"):
            stats = await slack.command("UADMIN", command)
            assert "Not delivered: #1 in <#C0ANN> (restricted_action)" in stats["text"]

        # The admin is told once, even when the outbox is drained again.
        await slack.command("UADMIN", "help")
        await slack.settle()
        assert len(await _dm_texts(fake_slack, "UADMIN")) == 1

        # A post that no channel took is not called published.
        await slack.command("UADMIN", f"queue <{article}/other> <#C0ANN|announcements>")

        async def told_twice() -> bool:
            return len(await _dm_texts(fake_slack, "UADMIN")) == 2

        await eventually(told_twice)
        listed = await slack.command("UADMIN", "list")
        assert "`#2` not published" in listed["text"]
        assert "`#1` published" in listed["text"]


async def test_the_refusal_is_told_in_the_admins_language(
    make_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    setup_workspace(fake_slack)
    settings = make_settings(relais_admins=frozenset({"UEMP1"}))  # Élodie uses Slack in French
    async with (
        article_server() as article,
        relais_app(settings, engine, FrozenClock(START), fake_slack) as slack,
    ):
        reply = await _refused_post(slack, sessions, article, admin="UEMP1")
        assert reply["text"].startswith("La publication n°1 est en cours de publication dans")
        [told] = await _rows(sessions, "post_refused")
        assert (told.destination, told.payload["lang"]) == ("UEMP1", "fr")
        assert _shown(told).startswith(
            "La publication n°1 n'a pas été publiée dans #C0ANN : la publication y est restreinte"
        )
        assert len(await _dm_texts(fake_slack, "UEMP1")) == 1
        assert await _dm_texts(fake_slack, "UADMIN") == []  # only the admin who queued it


# ---------------------------------------------------------------------------------------------------
# A dead bot token during a command (moved from tests/scheduler/test_delivery.py)


async def test_a_dead_token_during_a_command_does_not_make_the_caller_inactive(
    make_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    setup_workspace(fake_slack)
    clock = FrozenClock(START)
    async with relais_app(make_settings(), engine, clock, fake_slack) as slack:
        await slack.command("UEMP2", "me")
        fake_slack.deactivate_token()
        clock.advance(timedelta(hours=1))  # the cached profile is stale: Slack is asked again
        reply = await slack.command("UEMP2", "me")  # answered through the response URL, no token needed
        assert reply["text"].startswith("*Your sharing*")
    async with sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        assert bob.active is True


# ---------------------------------------------------------------------------------------------------
# Message size and escaping (moved from tests/scheduler/test_delivery.py and test_publish.py)


async def test_a_nudge_with_three_long_captions_fits_slack_and_is_delivered(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UPARIS")
    await seed_three_long_posts(sessions)
    await jobs.run_job(_ctx(sessions, fake_slack, FrozenClock(NUDGE_TIME)), "nudges")
    [nudge] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UPARIS"]
    assert fake_slack.messages[fake_slack.dm_channel_id("UPARIS")]  # Slack took it
    blocks = nudge.params["blocks"]
    texts = [str(o["text"]) for o in text_objects(blocks)]
    assert sum(len(t) for t in texts) <= 12_000
    for post in ("Post0", "Post1", "Post2"):  # every post is still there, with its link and its buttons
        assert post in str(blocks)
    assert sum(1 for t in texts if "We &lt;3 R&amp;D!" in t) == 3  # each caption, shortened
    assert all("&amp" not in t.rsplit("…", 1)[-1][-5:] for t in texts)  # never cut inside an entity
    assert [b["type"] for b in blocks].count("actions") == 3
    async with sessions() as session:
        row = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "nudge", OutboxMessage.destination == "UPARIS"
                )
            )
        ).one()
        assert row.state is OutboxState.SENT


async def test_a_long_title_reaches_slack_shortened_then_escaped_once(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    """A title over 200 characters shows its first 199 and an ellipsis, whatever it contains: an `&` in it
    is an ordinary character (it used to cut the title at its last `&`, leaving "Tom…"), escaped once by
    the renderer, after the shortening, in a bold link."""
    fake_slack.add_channel("C0NEWS", "news")
    await seed(sessions)
    title = "Tom & Jerry " + "t" * 300
    async with sessions() as session:
        (await session.get_one(Post, 1)).title = title
        await session.commit()
    notifier = SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
    clock = FrozenClock(START + timedelta(hours=1))
    published, _ = await jobs.publish(jobs.Context(sessions, {"slack": notifier}, clock.now))
    assert published == [1]
    [pushed] = await fake_slack.wait_for_calls("chat.postMessage")
    shown = title[:199].replace("&", "&amp;") + "…"
    assert pushed.params["blocks"][0]["text"]["text"] == f"*<https://example.com/soon|{shown}>*"
