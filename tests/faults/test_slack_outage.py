"""Fault: Slack answers 5xx for a minute while a nudge round goes out; the outbox catches up afterwards.

A real `relais clock` (on a faked time running `RATE` times faster than real time,
`tests.faults.clock_process`) makes this week's nudge round for 200 members. From the clock's start and
for one minute of its time (60 / `RATE` real seconds), the fake Slack answers every chat.postMessage with
503 and its edge's HTML page, as Slack does when it is down; then it answers again. Each failed message
waits its back-off (`bot.services.outbox.BACKOFF_SECONDS`) and is sent at the clock's next pass after
it. In the end every member holds exactly one nudge, every row is `sent` (none failed for good), and each
row was tried once more than the 503s it got.
"""

from __future__ import annotations

import asyncio
from typing import Final

from sqlalchemy import func, select

from bot import db
from bot.demo.fake_slack import FakeSlack
from bot.services.outbox import MAX_ATTEMPTS
from models import OutboxMessage, OutboxState
from tests.faults.clock_process import (
    START,
    direct_messages,
    migrated,
    seed_nudge_round,
    start_clock,
    states,
    stop,
    until,
)

MEMBERS: Final = 200
# The clock's time runs this many times faster than real time: the minute is 6 real seconds.
RATE: Final = 10
OUTAGE_SECONDS: Final = 60.0  # on the clock's time
FAILURES_SECONDS: Final = 30.0  # real seconds: deadline for the first 503s
CATCH_UP_SECONDS: Final = 60.0  # real seconds: deadline for every nudge once Slack is back


async def test_slack_down_for_a_minute_then_every_member_gets_one_nudge(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    async with migrated(empty_database_url, fake_slack) as (environment, _engine, sessions):
        members = await seed_nudge_round(sessions, fake_slack, MEMBERS)
        fake_slack.fail_next("chat.postMessage", status=503, times=1_000_000)  # Slack is down
        clock = await start_clock(environment, at=START, rate=RATE)
        try:
            await until(
                lambda: fake_slack.calls_to("chat.postMessage"),
                within=FAILURES_SECONDS,
                what="the first nudge refused",
                process=clock,
            )
            # The minute starts with the round's first refusal (the clock's start-up is not counted).
            await asyncio.sleep(OUTAGE_SECONDS / RATE)
            during = await states(sessions)
            assert direct_messages(fake_slack) == {}
            refused = len(fake_slack.calls_to("chat.postMessage"))
            fake_slack.reset()  # Slack is back (the injected failures are forgotten)

            await until(
                lambda: _all_sent(sessions),
                within=CATCH_UP_SECONDS,
                what=f"all {MEMBERS} nudges sent after the outage",
                process=clock,
            )
        finally:
            await stop(clock)

        assert during.get(OutboxState.SENT, 0) == 0
        assert sum(during.values()) == MEMBERS
        assert direct_messages(fake_slack) == dict.fromkeys(members, 1)
        assert len(fake_slack.calls_to("chat.postMessage")) == MEMBERS  # once each since Slack is back
        async with sessions() as session:
            attempts, most, retried = (
                await session.execute(
                    select(
                        func.sum(OutboxMessage.attempts),
                        func.max(OutboxMessage.attempts),
                        func.count().filter(OutboxMessage.attempts > 1),
                    )
                )
            ).one()
        assert attempts == MEMBERS + refused  # each refusal cost one attempt, then one send each
        assert retried > 0
        assert most < MAX_ATTEMPTS  # none came near failing for good


async def _all_sent(sessions: db.Sessions) -> bool:
    return await states(sessions) == {OutboxState.SENT: MEMBERS}
