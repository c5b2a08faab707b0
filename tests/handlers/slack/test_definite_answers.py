"""Every click and command gets a definite answer within Slack's 3 seconds, whatever the database does:
another process holding SQLite's write lock, Slack answering late while Relais writes, a database that
refuses writes. Driven through signed requests into the running app."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_slack import FakeSlack
from models import Delivery, Dismissal, Member, Share, Suggestion
from tests.conftest import TEST_DATABASE_URL, pending_writes
from tests.handlers.slack.driver import SettingsFactory, SlackDriver, eventually
from tests.handlers.slack.test_social import World, _button, _click_share, _connect, _publish
from tests.handlers.slack.test_social import world as world  # the fixture, with LinkedIn and X

Sessions = async_sessionmaker[AsyncSession]
SLACK_ACK_LIMIT = 3.0  # Slack's rule, a correctness bound (not a speed target)

sqlite_only = pytest.mark.skipif(
    TEST_DATABASE_URL is not None, reason="SQLite's single write lock; PostgreSQL takes concurrent writers"
)


async def _count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def _queue(slack: SlackDriver, sessions: Sessions, article: str) -> None:
    await slack.command("UADMIN", f"queue <{article}/launch> <#C0NEWS|news>")

    async def delivered() -> bool:
        return await _count(sessions, Delivery) == 1

    await eventually(delivered)


async def _timed_click(slack: SlackDriver, user: str, action_id: str, value: str) -> tuple[int, float, str]:
    started = asyncio.get_running_loop().time()
    sent = await slack.click(user, action_id, value)
    return sent.status, asyncio.get_running_loop().time() - started, sent.url_id


def _texts(slack: SlackDriver, url_id: str) -> list[str]:
    return [str(r.get("text")) for r in slack.fake.responses_to(url_id)]


@contextmanager
def _write_lock_held_by_another_process(database_url: str, seconds: float) -> Iterator[None]:
    """Another process (an operator's sqlite3 shell, a migration, a second Relais) holds the database's
    write lock for `seconds`."""
    path = make_url(database_url).database
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "c.execute('ROLLBACK')\n",
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline().strip()
        assert line == "locked", holder.stderr.read() if holder.stderr else line
        yield
    finally:
        holder.wait(timeout=seconds + 10)


@sqlite_only
async def test_every_click_is_answered_in_time_while_another_process_holds_the_write_lock(
    slack: SlackDriver, article: str, sessions: Sessions, fake_slack: FakeSlack, database_url: str
) -> None:
    await _queue(slack, sessions, article)
    fake_slack.add_user("UNEW", real_name="Nadia", tz="Europe/Paris")
    await slack.click("UEMP2", "share_x", "1")  # Bob is known to this process
    await slack.click("UEMP3", "share_x", "1")
    await slack.settle()

    with _write_lock_held_by_another_process(database_url, 8):
        results = await asyncio.gather(
            _timed_click(slack, "UEMP2", "open_share_x", "1:x"),  # known: his share waits for the lock
            # First contact: her member row is created with her share, in the writer's batch: it waits too.
            _timed_click(slack, "UNEW", "open_share_x", "1:x"),
            _timed_click(slack, "UEMP3", "not_for_me", "1"),
        )
        for status, elapsed, _ in results:
            assert status == 200
            assert elapsed < SLACK_ACK_LIMIT
        (_, _, bob), (_, _, nadia), (_, _, carla) = results
        # Told at once, while the lock is still held.
        assert [r["text"] for r in await slack.responses(bob, timeout=3)] == [
            "I am still recording your share on X: the database is busy. "
            "You will get a message here as soon as it is counted."
        ]
        assert [r["text"] for r in await slack.responses(nadia, timeout=3)] == [
            "I am still recording your share on X: the database is busy. "
            "You will get a message here as soon as it is counted."
        ]
    # Once the lock is gone, what was promised comes, and nothing else.
    assert [r["text"] for r in await slack.responses(bob, count=2, timeout=20)][1] == (
        "Thanks! Your share on X is counted."
    )
    still, noted = await slack.responses(carla, count=2, timeout=20)
    assert still["text"] == STILL_WORKING  # told within the ack's budget, while the lock was held
    assert noted["text"].startswith("Noted")
    assert [r["text"] for r in await slack.responses(nadia, count=2, timeout=20)][1] == (
        "Thanks! Your share on X is counted."
    )
    await slack.settle(0.5)
    assert len(_texts(slack, nadia)) == 2
    bob_id = await _member_id(sessions, "UEMP2")
    assert await _count(sessions, Share, Share.member_id == bob_id) == 1
    nadia_id = await _member_id(sessions, "UNEW")
    assert await _count(sessions, Share, Share.member_id == nadia_id) == 1
    assert await _count(sessions, Share) == 2
    assert await _count(sessions, Dismissal) == 1


STILL_WORKING = (
    "I am still working on it: the database is busy right now. "
    "You will get a message here as soon as it is done."
)


@sqlite_only
async def test_repost_and_edit_and_share_are_answered_in_time_while_the_write_lock_is_held(
    world: World, database_url: str
) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    w.x.fail_next("create_tweet", status=504)  # X took it but did not answer: the outcome is unknown
    share_id = _button(await _click_share(w, "UEMP2", "x", message), "share_repost")["value"]
    await w.slack.command(
        "UEMP3", "help"
    )  # Carla is known (a first contact cannot be created under the lock)
    with _write_lock_held_by_another_process(database_url, 8):
        started = asyncio.get_running_loop().time()
        repost = await w.slack.click("UEMP2", "share_repost", share_id, ephemeral=True)
        edited = await w.slack.submit(
            "UEMP3",
            "edit_share_modal",
            {"caption": {"type": "plain_text_input", "value": "Mine"},
             "network": {"type": "static_select", "selected_option": {"value": "linkedin"}}},
            private_metadata='{"post_id": 1}',
        )  # fmt: skip
        elapsed = asyncio.get_running_loop().time() - started
        assert (repost.status, edited.status_code, elapsed < 2 * SLACK_ACK_LIMIT) == (200, 200, True)
        assert edited.text == ""  # the form closes; the share link follows by direct message
        assert [r["text"] for r in await w.slack.responses(repost.url_id, timeout=3)] == [STILL_WORKING]
    # Once the lock is gone: the repost's outcome, and Carla's share link.
    answers = await w.slack.responses(repost.url_id, count=2, timeout=20)
    assert answers[1]["text"] == "Posted on X. Thank you!"
    carla = w.slack.fake.dm_channel_id("UEMP3")
    await eventually(lambda: _has_dm(w, carla), timeout=20)
    assert w.slack.fake.messages[carla][-1]["text"].startswith(
        "Share on LinkedIn: https://relais.example.test/r/"
    )


async def _has_dm(w: World, channel: str) -> bool:
    return bool(w.slack.fake.messages.get(channel))


async def _member_id(sessions: Sessions, user: str) -> int:
    async with sessions() as session:
        return (await session.scalars(select(Member.id).where(Member.external_id == user))).one()


async def test_a_suggestion_holds_no_write_transaction_while_the_admins_are_messaged(
    slack: SlackDriver,
    article: str,
    sessions: Sessions,
    fake_slack: FakeSlack,
    engine: AsyncEngine,
    make_settings: SettingsFactory,
) -> None:
    await _queue(slack, sessions, article)
    for admin in ("UADM2", "UADM3", "UADM4"):
        fake_slack.add_user(admin, real_name=admin, is_admin=True)
        await slack.command(admin, "help")  # now known as admins: 4 reviewers in all
    await slack.click("UEMP2", "share_x", "1")
    await slack.settle()

    writes_open: list[bool] = []
    fake_slack.delay("chat.postMessage", 2.5)  # Slack is slow today
    earlier = len(fake_slack.calls_to("chat.postMessage"))
    try:
        with pending_writes(engine) as write_pending:
            suggesting = asyncio.ensure_future(slack.command("UEMP1", f"suggest <{article}/idea> Great read"))
            await fake_slack.wait_for_calls("chat.postMessage", count=earlier + 1)
            writes_open.append(write_pending())  # while Slack holds the first review message
            status, elapsed, bob = await _timed_click(slack, "UEMP2", "open_share_x", "1:x")
            assert status == 200
            assert elapsed < SLACK_ACK_LIMIT
            assert (await slack.responses(bob, timeout=5))[0]["text"] == "Thanks! Your share on X is counted."
            reply = await suggesting
    finally:
        fake_slack.delay("chat.postMessage", 0)
    assert writes_open == [False]
    assert reply["text"].startswith("Merci ! Votre suggestion est envoyée aux admins")  # Élodie: French

    async def reviews_remembered() -> bool:
        async with sessions() as session:
            suggestion = (await session.scalars(select(Suggestion))).one()
        return len(suggestion.review_messages) == 4

    await eventually(reviews_remembered)  # where each review went is saved as it is sent


@contextmanager
def _read_only(engine: AsyncEngine) -> Iterator[None]:
    """The database refuses every write, as a PostgreSQL replica does after a failover (SQLite:
    `query_only`). Applied to every new connection; the caller disposes of the pooled ones."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            # SQLAlchemy's asyncpg adapter runs that inside the transaction it opens implicitly; committed,
            # the setting holds for the connection's life however it is first used (uncommitted, a new
            # connection first used by the share writer's batch was seen read-write: the share was written).
            dbapi_connection.commit()
        cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "connect", on_connect)


async def test_a_database_that_refuses_writes_gets_an_answer_never_an_http_500(
    slack: SlackDriver, article: str, sessions: Sessions, fake_slack: FakeSlack, engine: AsyncEngine
) -> None:
    await _queue(slack, sessions, article)
    fake_slack.add_user("UNEW", real_name="Nadia", tz="Europe/Paris")
    for user in ("UEMP2", "UEMP3"):
        # Each has their personal link, so the work after those acks is over before the database turns
        # read-only (a write still in flight on a connection of the old pool would go through).
        await slack.responses((await slack.click(user, "share_x", "1")).url_id)
    await slack.settle()
    sorry = "Something went wrong on my side; nothing was changed. Please try again."
    unfinished = (
        "Something went wrong on my side before I could finish. "
        "Part of it may already be done: please check before trying again."
    )
    with _read_only(engine):
        await engine.dispose()
        for user, action_id, value, expected in (
            ("UEMP2", "open_share_x", "1:x", sorry),  # known: the share's write is refused before the ack
            ("UNEW", "open_share_x", "1:x", sorry),  # first contact: the member cannot be created
            ("UNEW", "share_linkedin", "1", unfinished),  # a share link is made after the ack
            # Recorded before the ack, like a share: refused, nothing done.
            ("UEMP3", "not_for_me", "1", sorry),
        ):
            status, elapsed, url_id = await _timed_click(slack, user, action_id, value)
            assert (user, action_id, status, elapsed < SLACK_ACK_LIMIT) == (user, action_id, 200, True)
            assert [r["text"] for r in await slack.responses(url_id, timeout=5)] == [expected]
        assert (await slack.command("UEMP2", "pause 2"))["text"] == sorry
    await engine.dispose()
    assert await _count(sessions, Share) == 0
    assert await _count(sessions, Dismissal) == 0
    assert await _count(sessions, Member, Member.external_id == "UNEW") == 0
