"""The outbox's rules: one message a second per channel, 429s and 5xx retried later, people who left
skipped, unusable channels reported to the admins once; every recipient gets each message once (against
a fake Slack that enforces its limits and fails on purpose: the notifier's codes are what the rules read).
A channel that refuses a post (announcement-only) is reported to the admin who queued it and shown in
`/relais list` and `/relais stats`, checked on the core's answers and the messages it sends; a dead
workspace token marks nobody inactive and loses nothing; the core's messages carry every post whole.
How Slack shows each of these: tests/handlers/slack/test_outbox_on_slack.py."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock
from bot.core import Relais
from bot.demo.fake_slack import FakeSlack
from bot.messages import Joined, Link, Message, Section, Strong, plain_text
from bot.messages.outbox import message_for
from bot.messages.post import TITLE_LENGTH, clip
from bot.notifier import CHANNEL_UNUSABLE, NOT_ALLOWED, Delivered
from bot.services import outbox
from bot.services.members import Profile
from handlers.slack.app import build_web_client
from handlers.slack.notifier import SlackNotifier
from models import Delivery, Member, OutboxMessage, OutboxState, Post, PostState
from scheduler import jobs
from tests.bot.flows import conftest as flows
from tests.bot.flows.conftest import Directory
from tests.conftest import BOT_TOKEN
from tests.fakes.notifier import RecordingNotifier, Shown
from tests.handlers.slack.driver import article_server
from tests.platform_text.adapter import TextChat
from tests.scheduler.test_jobs_cli import _relais
from tests.scheduler.test_weekly import BOARD_TIME, NUDGE_TIME, _member, _workspace

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]

# The fixtures of the core's flows' tests: a core over the test database, and the platform's directory.
core = flows.core
directory = flows.directory


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
    return jobs.Context(sessions, {"slack": SlackNotifier(client)}, clock.now)


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
    # A burst of 3: two at once, the third `outbox.JITTER` later (the time messages take to reach Slack
    # differs: see `outbox.take_slot`); the channel's others wait with it.
    assert sorted(sent) == ["C0NEWS"] * 2 + ["UA", "UB", "UC"]
    async with sessions() as session:
        waiting = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING))
        ).all()
        assert [m.next_attempt_at - clock.now() for m in waiting] == [outbox.JITTER] * 3
        assert {m.attempts for m in waiting} == {0}
    clock.advance(timedelta(seconds=3))
    await asyncio.sleep(2)  # the fake Slack counts on the real clock
    await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
    sent = [str(c.params["channel"]) for c in fake_slack.calls_to("chat.postMessage")]
    assert sent.count("C0NEWS") == 4  # the bucket full again: two at once, the last one a moment later
    clock.advance(outbox.JITTER)
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
    ctx = jobs.Context(sessions, {"slack": SlackNotifier(build_web_client(settings))}, clock.now)
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
    # Each once; in either order, since each retry's wait is jittered.
    retried = [str(c.params["channel"]) for c in fake_slack.calls_to("chat.postMessage")][4:]
    assert sorted(retried) == ["UA", "UB"]


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
    # The admin heard once about the archived channel (an alert about an alert is never sent), with
    # Slack's own reason (what their message names).
    alerts = await _rows(sessions, "admin_alert")
    assert [(a.destination, a.payload, a.state) for a in alerts if a.destination == "UADMIN"] == [
        ("UADMIN", {"channel": "C0OLD", "code": "channel_unusable", "cause": "channel_archived",
                    "error": "is_archived", "lang": "en"},
         OutboxState.SENT)
    ]  # fmt: skip
    to_admin = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UADMIN"]
    assert len(to_admin) == 1
    # Nothing failed is tried again.
    calls = len(fake_slack.calls_to("chat.postMessage"))
    clock.advance(timedelta(hours=1))
    await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
    assert len(fake_slack.calls_to("chat.postMessage")) == calls


# ---------------------------------------------------------------------------------------------------
# A channel that refuses a post


async def _rows(sessions: Sessions, kind: str) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


def _shown(row: OutboxMessage) -> str:
    """What an outbox row says, as plain text (its neutral message, whatever the platform)."""
    message = message_for(row.kind, row.payload)
    assert message is not None
    return plain_text(message.summary)


class AnnouncementOnly(RecordingNotifier):
    """A platform on which only the workspace's admins may post in `channels`: Relais's messages there
    are refused as a notifier reports a channel it cannot use (the platform's reason kept, here Slack's
    word for it, which the admins' texts name)."""

    def __init__(self, *channels: str) -> None:
        super().__init__()
        self.channels = frozenset(channels)
        self.refused: list[tuple[str, str]] = []

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        if destination in self.channels:
            self.refused.append((kind, destination))
            return Delivered(ok=False, error=CHANNEL_UNUSABLE, detail="restricted_action", cause=NOT_ALLOWED)
        return await super().send(
            kind=kind, destination=destination, payload=payload, workspace_id=workspace_id
        )


def said(shown: Shown | None) -> str:
    """The whole of what a person was shown, as plain text."""
    assert shown is not None, "the person was shown nothing"
    return f"{shown.text}\n{shown.body}"


async def test_a_channel_that_refuses_a_post_is_reported_to_its_admin_and_shown_not_delivered(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    """#general lets only its admins post. (The same through Slack, with Slack's rendering of each answer:
    tests/handlers/slack/test_outbox_on_slack.py.)"""
    notifier = AnnouncementOnly("CGENERAL")
    chat = TextChat(core, directory, notifier)
    async with article_server() as article:
        reply = await chat.type("UBOSS", f"queue {article}/launch #news #general")
        # Nothing said "published" before the platform accepted it.
        assert said(reply).startswith(
            "Post #1 is being published in #CNEWS, #CGENERAL. I'll tell you if a channel refuses it."
        )
        assert notifier.refused == [("post", "CGENERAL")]
        [refusal] = await _rows(sessions, "post_refused")
        assert (refusal.destination, refusal.state) == ("UBOSS", OutboxState.SENT)
        assert _shown(refusal) == (
            "Post #1 was not published in #CGENERAL: posting there is restricted (an announcement-only "
            "channel, for instance). Ask whoever manages the channel to let Relais post there, or queue the "
            "post into another channel."
        )
        assert [sent.kind for sent in notifier.to("UBOSS")] == ["post_refused"]
        assert [sent.kind for sent in notifier.to("CNEWS")] == ["post"]
        async with sessions() as session:
            deliveries = (await session.scalars(select(Delivery))).all()
            assert [d.destination for d in deliveries] == ["CNEWS"]
            refused = (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.destination == "CGENERAL"))
            ).one()
            assert (refused.state, refused.last_error) == (OutboxState.FAILED, "restricted_action")
            post = (await session.scalars(select(Post))).one()
            assert post.state is PostState.PUBLISHED  # it is, in #news

        listed = said(await chat.type("UBOSS", "list"))
        assert "`#1` published" in listed
        assert "not delivered to #CGENERAL (restricted_action)" in listed
        assert "#CNEWS" not in listed  # delivered there: nothing to say
        for command in ("stats 1", "stats"):
            stats = said(await chat.type("UBOSS", command))
            assert "Not delivered: #1 in #CGENERAL (restricted_action)" in stats

        # The admin is told once, even when the outbox is drained again.
        await chat.type("UBOSS", "help")
        assert [sent.kind for sent in notifier.to("UBOSS")] == ["post_refused"]

        # A post that no channel took is not called published.
        await chat.type("UBOSS", f"queue {article}/other #general")
        assert [sent.kind for sent in notifier.to("UBOSS")] == ["post_refused"] * 2
        listed = said(await chat.type("UBOSS", "list"))
        assert "`#2` not published" in listed
        assert "`#1` published" in listed


async def test_an_announcement_only_channel_is_reported_to_the_admins_once(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UADMIN", is_admin=True)
    fake_slack.add_channel("C0ANN", "announcements", announcement_only=True)
    clock = FrozenClock(BOARD_TIME)
    await _enqueue(sessions, clock, [("social_connected", "C0ANN"), ("social_connected", "C0ANN")])
    for _ in range(2):
        await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
        clock.advance(timedelta(minutes=5))
    [alert] = await _rows(sessions, "admin_alert")
    assert (alert.destination, alert.state) == ("UADMIN", OutboxState.SENT)
    assert (
        alert.payload["channel"],
        alert.payload["code"],
        alert.payload["cause"],
        alert.payload["error"],
    ) == (
        "C0ANN",
        "channel_unusable",
        "not_allowed",  # what the alert's words are chosen by
        "restricted_action",  # Slack's own reason, named in them
    )
    to_admin = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UADMIN"]
    assert len(to_admin) == 1
    async with sessions() as session:
        states = {
            m.state for m in (await session.scalars(select(OutboxMessage))).all() if m.destination == "C0ANN"
        }
    assert states == {OutboxState.FAILED}


async def test_the_refusal_is_told_in_the_admins_language(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    """Anne, a workspace admin by the platform's directory, speaks French; Boss (an admin too) hears
    nothing of her post."""
    anne = directory.profiles["UANNE"]
    directory.profiles["UANNE"] = Profile(anne.display_name, anne.locale, anne.timezone, is_admin=True)
    notifier = AnnouncementOnly("CGENERAL")
    chat = TextChat(core, directory, notifier)
    async with article_server() as article:
        reply = await chat.type("UANNE", f"queue {article}/launch #news #general")
    assert said(reply).startswith("La publication n°1 est en cours de publication dans")
    [told] = await _rows(sessions, "post_refused")
    assert (told.destination, told.payload["lang"]) == ("UANNE", "fr")
    assert _shown(told).startswith(
        "La publication n°1 n'a pas été publiée dans #CGENERAL : la publication y est restreinte"
    )
    assert [sent.kind for sent in notifier.to("UANNE")] == ["post_refused"]
    assert notifier.to("UBOSS") == []  # only the admin who queued it


# ---------------------------------------------------------------------------------------------------
# A dead workspace token


async def test_a_dead_workspace_token_marks_nobody_inactive_and_loses_nothing(
    sessions: Sessions, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    for user in ("UA", "UB"):
        fake_slack.add_user(user)
    clock = FrozenClock(BOARD_TIME)
    async with sessions() as session:
        workspace = await _workspace(session)
        session.add_all([_member(workspace, "UA"), _member(workspace, "UB")])
        await session.commit()
    await _enqueue(sessions, clock, [("social_connected", "UA"), ("social_connected", "UB")])
    fake_slack.deactivate_token()  # the app's bot user or the workspace was deleted
    with caplog.at_level(logging.ERROR, logger="bot.services.recipients"):
        for _ in range(outbox.MAX_ATTEMPTS + 2):  # more passes than a message has attempts
            await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
            clock.advance(timedelta(hours=1))
    async with sessions() as session:
        members = (await session.scalars(select(Member).where(Member.external_id.in_(["UA", "UB"])))).all()
        assert [m.active for m in members] == [True, True]
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [r.state for r in rows] == [OutboxState.PENDING, OutboxState.PENDING]
        assert {r.attempts for r in rows} == {0}
        assert all(str(r.last_error).startswith("account_inactive: ") for r in rows)
    dead = [r for r in caplog.records if "bot token no longer works" in r.getMessage()]
    assert len(dead) == 1  # logged once, not once per message and pass

    fake_slack.token_error = None  # a working token again
    await jobs.run_job(_ctx(sessions, fake_slack, clock), "outbox")
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [r.state for r in rows] == [OutboxState.SENT, OutboxState.SENT]


async def test_relais_jobs_list_shows_what_a_dead_token_holds_back_and_the_error_is_logged_once(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    env = {
        "DATABASE_URL": empty_database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake_slack.api_url,
    }
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    try:
        sessions = db.session_factory(engine)
        long_ago = FrozenClock(datetime(2020, 1, 6, 9, 0, tzinfo=UTC))  # due whatever today is
        await _enqueue(sessions, long_ago, [("social_connected", "UADMIN"), ("social_connected", "ULEFT")])
        fake_slack.deactivate_token()
        code, _, err = await _relais("jobs", "run", "outbox", **env)
        assert code == 0, err
        assert err.count("bot token no longer works") == 1
        code, out, err = await _relais("jobs", "list", **env)
        assert code == 0, err
        assert (
            "outbox: workspace 1: 2 messages waiting: account_inactive: the chat platform refuses Relais's "
            "bot token" in out
        )
        async with sessions() as session:
            assert [m.active for m in (await session.scalars(select(Member))).all()] == [True, True]
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------------
# Message size


async def seed_three_long_posts(sessions: Sessions) -> None:
    """UPARIS has three posts to share, each as long as a post gets: a long link, title and description,
    and a 2,992-character caption full of characters a platform escapes."""
    async with sessions() as session:
        workspace = await _workspace(session)
        admin = _member(workspace, "UADMIN", opted_out=True)
        member = _member(workspace, "UPARIS")
        session.add_all([admin, member])
        await session.flush()
        for i in range(3):
            published = NUDGE_TIME - timedelta(days=3 - i)
            session.add(
                Post(
                    workspace_id=workspace.id,
                    url=f"https://example.com/{i}/?" + "utm_campaign=autumn&" * 60,
                    title=f"Post{i} " + "T" * 300,
                    description="D & d " * 120,
                    image_url=f"https://example.com/{i}.png",
                    captions=[LONG_CAPTION],
                    networks=["linkedin", "x"],
                    channels=["C0NEWS"],
                    state=PostState.PUBLISHED,
                    publish_at=published,
                    published_at=published,
                    created_by_id=admin.id,
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
        await session.commit()


LONG_CAPTION = "We <3 R&D! " * 272  # 2,992 characters, longer once escaped


def _headlines(message: Message) -> list[Link]:
    """The link each post's section opens with (a post card's bold title)."""
    found = []
    for part in message.parts:
        if isinstance(part, Section):
            first = part.text.parts[0] if isinstance(part.text, Joined) else part.text
            if isinstance(first, Strong) and isinstance(first.content, Link):
                found.append(first.content)
    return found


async def test_a_nudge_with_three_long_captions_keeps_every_post_whole(sessions: Sessions) -> None:
    """The core's nudge carries every post whole, with its link, caption and buttons: fitting it to a
    platform's size limits is the platform's renderer's job (Slack's 12,000 characters, never cut inside
    an entity: tests/handlers/slack/test_outbox_on_slack.py)."""
    await seed_three_long_posts(sessions)
    recorder = RecordingNotifier()
    await jobs.run_job(jobs.Context(sessions, {"slack": recorder}, FrozenClock(NUDGE_TIME).now), "nudges")
    [nudge] = recorder.to("UPARIS")
    assert nudge.kind == "nudge"
    headlines = _headlines(nudge.message)
    assert [link.url for link in headlines] == [
        f"https://example.com/{i}/?" + "utm_campaign=autumn&" * 60
        for i in (2, 1, 0)  # newest first
    ]
    assert [plain_text(link.label) for link in headlines] == [
        clip(f"Post{i} " + "T" * 300, TITLE_LENGTH) for i in (2, 1, 0)
    ]
    assert nudge.body.count(LONG_CAPTION.strip()) == 3  # each caption in full, as typed
    assert nudge.actions.count("share_linkedin") == nudge.actions.count("share_x") == 3
    [row] = await _rows(sessions, "nudge")
    assert (row.destination, row.state) == ("UPARIS", OutboxState.SENT)
