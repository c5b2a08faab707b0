"""Fault: `kill -9` of `relais clock` in the middle of a 2,000-member nudge round, then a restart.

A real `relais clock` (on a faked time, `tests.faults.clock_process`) makes this week's nudge round and
sends it through the outbox to the fake Slack. Once 500 members have theirs, the fake Slack stops
answering chat.postMessage (it holds each call it receives, delivering nothing), and as soon as every
message the clock has claimed is such a held call, the clock is killed with SIGKILL: those rows stay
`sending`, the rest `pending`. A new clock an hour later (past the outbox's `STALE_SENDING`) finishes the
round. Every member then holds exactly one nudge in their DM with the bot, and every row is `sent`.

The first test does not cover, by construction, a kill after Slack delivered a message and before the
row was marked `sent`; the second one does. chat.postMessage has no idempotency key, so each message
carries a mark in its metadata, and a message `recover_stale` gives back is first looked for in its
conversation (`handlers.slack.notifier.SlackNotifier.find_delivered`): found, it is marked sent, not
posted again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Final

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.demo.fake_slack import FakeSlack
from models import OutboxMessage, OutboxState
from tests.faults.clock_process import (
    START,
    direct_messages,
    kill,
    migrated,
    seed_nudge_round,
    start_clock,
    states,
    stop,
    until,
)

MEMBERS: Final = 2000
BEFORE_KILL: Final = 500  # members who have their nudge when Slack starts holding calls
HOLD: Final = 3600.0  # seconds the fake Slack holds a call: longer than the test, so never delivered
# Deadlines in real seconds: each about twice what its wait took on a 2-core machine at load 6 (the
# whole test then took 40-90 s; 34 s at load 4).
SENDING_SECONDS: Final = 90.0
SETTLE_SECONDS: Final = 20.0
CATCH_UP_SECONDS: Final = 150.0


async def test_a_clock_killed_mid_round_then_restarted_nudges_every_member_exactly_once(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    async with migrated(empty_database_url, fake_slack) as (environment, _engine, sessions):
        members = await seed_nudge_round(sessions, fake_slack, MEMBERS)

        def delivered() -> int:
            return sum(direct_messages(fake_slack).values())

        def held() -> int:
            """Calls Slack received and did not answer (none is ever refused here)."""
            return len(fake_slack.calls_to("chat.postMessage")) - delivered()

        async def every_claimed_message_is_held() -> bool:
            sending = (await states(sessions)).get(OutboxState.SENDING, 0)
            return held() > 0 and sending == held()

        first = await start_clock(environment, at=START)
        try:
            await until(
                lambda: delivered() >= BEFORE_KILL,
                within=SENDING_SECONDS,
                what=f"{BEFORE_KILL} nudges delivered",
                process=first,
            )
            fake_slack.delay("chat.postMessage", HOLD)
            await until(
                every_claimed_message_is_held,
                within=SETTLE_SECONDS,
                what="every claimed message held by Slack",
                process=first,
            )
        finally:
            await kill(first)

        in_flight = held()
        at_kill = await states(sessions)
        assert at_kill.get(OutboxState.SENDING) == in_flight
        assert at_kill.get(OutboxState.SENT) == delivered()
        assert at_kill.get(OutboxState.PENDING, 0) > 0, at_kill  # killed in the middle of the round
        assert sum(at_kill.values()) == MEMBERS
        async with sessions() as session:
            marked_sent = set(
                (
                    await session.scalars(
                        select(OutboxMessage.destination).where(OutboxMessage.state == OutboxState.SENT)
                    )
                ).all()
            )
            interrupted = set(
                (
                    await session.scalars(
                        select(OutboxMessage.id).where(OutboxMessage.state == OutboxState.SENDING)
                    )
                ).all()
            )
        assert marked_sent == set(direct_messages(fake_slack))

        fake_slack.delay("chat.postMessage", 0)  # Slack answers again (the held calls stay unanswered)
        second = await start_clock(environment, at=START + timedelta(hours=1))
        try:
            await until(
                lambda: _all_sent(sessions),
                within=CATCH_UP_SECONDS,
                what=f"all {MEMBERS} nudges sent after the restart",
                process=second,
            )
        finally:
            log = await stop(second)
        assert f"{in_flight} outbox messages were interrupted while sending" in log

        assert direct_messages(fake_slack) == dict.fromkeys(members, 1)
        assert len(fake_slack.calls_to("chat.postMessage")) == MEMBERS + in_flight
        # Looked for in its DM once per interrupted row; never for the 2,000 sent normally.
        assert len(fake_slack.calls_to("conversations.history")) == in_flight
        assert await states(sessions) == {OutboxState.SENT: MEMBERS}
        async with sessions() as session:
            retried = (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(interrupted)))
            ).all()
        assert [row.attempts for row in retried] == [2] * in_flight


async def _all_sent(sessions: db.Sessions, members: int = MEMBERS) -> bool:
    return await states(sessions) == {OutboxState.SENT: members}


FEW: Final = 50
ANSWER_DELAY: Final = 1.0  # real seconds Slack takes to take and answer a message, in the second test


async def test_a_message_slack_took_just_before_the_kill_is_not_sent_again(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """Slack takes a message (after `ANSWER_DELAY`), and the clock is killed before it could record it:
    the outbox table is locked meanwhile, so the row stays `sending` although its member has it. The
    restarted clock finds it in the member's DM (by the mark in its metadata) and does not post it again.
    (Before the outbox asked, it was posted again: the member got it twice.)"""
    async with migrated(empty_database_url, fake_slack) as (environment, engine, sessions):
        members = await seed_nudge_round(sessions, fake_slack, FEW)

        def delivered() -> int:
            return sum(direct_messages(fake_slack).values())

        def held() -> int:
            return len(fake_slack.calls_to("chat.postMessage")) - delivered()

        first = await start_clock(environment, at=START)
        try:
            await until(lambda: delivered() >= 10, within=SENDING_SECONDS, what="10 nudges", process=first)
            fake_slack.delay("chat.postMessage", ANSWER_DELAY)
            await until(lambda: held() > 0, within=SETTLE_SECONDS, what="a message in flight", process=first)
            async with _outbox_locked(engine, empty_database_url):
                # Slack takes what is in flight; the clock cannot record it.
                await until(lambda: held() == 0, within=SETTLE_SECONDS, what="Slack took it", process=first)
                await asyncio.sleep(ANSWER_DELAY)  # and anything sent meanwhile
                await until(lambda: held() == 0, within=SETTLE_SECONDS, what="Slack took all", process=first)
                await kill(first)
        finally:
            await kill(first)
        fake_slack.delay("chat.postMessage", 0)
        at_kill = await states(sessions)
        # Slack has every message it took, some recorded `sent`; the rest of what it took is still
        # `sending` (maybe with a message claimed but not yet sent: workspaces drain side by side).
        taken = delivered() - at_kill.get(OutboxState.SENT, 0)
        assert 0 < taken <= at_kill.get(OutboxState.SENDING, 0)

        second = await start_clock(environment, at=START + timedelta(hours=1))
        try:
            await until(
                lambda: _all_sent(sessions, FEW), within=CATCH_UP_SECONDS, what="all sent", process=second
            )
        finally:
            log = await stop(second)
        assert direct_messages(fake_slack) == dict.fromkeys(members, 1)
        assert log.count("was delivered before its send was interrupted") == taken
        assert await states(sessions) == {OutboxState.SENT: FEW}


@asynccontextmanager
async def _outbox_locked(engine: AsyncEngine, database_url: str) -> AsyncIterator[None]:
    """No one writes to the outbox table meanwhile (readers still read)."""
    if engine.dialect.name == "sqlite":
        path = make_url(database_url).database
        assert path is not None
        locking = sqlite3.connect(path, isolation_level=None)
        try:
            locking.execute("BEGIN EXCLUSIVE")
            yield
            locking.execute("ROLLBACK")
        finally:
            locking.close()
        return
    async with engine.connect() as connection:
        await connection.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))
        yield
        await connection.rollback()
