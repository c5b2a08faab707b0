"""Fault: messages Slack took whose rows still say `sending` (a drainer killed between Slack's answer and
its record), looked for by a restarted `relais clock` only where the app may read, never lost.

A real `relais clock` (on a faked time, `tests.faults.clock_process`) sends this week's nudges to a few
members and pushes a newly published post to #news; it is stopped, and every one of those rows is put
back to `sending` as a kill right after Slack's answers would have left them (the messages are in Slack,
the rows not marked). A new clock an hour later (past `STALE_SENDING`) gives them back as interrupted:

* the app asks only `im:history` (docs/slack-app-manifest.json): each nudge is found in its DM by its
  mark, one conversations.history per interrupted row, and not posted again; the channel's history is
  never asked for (Slack would answer `missing_scope`), so the push is sent again: at least once;
* an app installed before `im:history` was asked (Slack answers `missing_scope`): everything is sent
  again, nothing is lost, and the operator's log says nothing went wrong.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import func, select, update

from bot.demo.fake_slack import FakeSlack
from bot.services.posts import POST_KIND
from bot.services.weekly import NUDGE_KIND
from models import OutboxMessage, OutboxState, Post, PostState, Workspace
from tests.faults.clock_process import (
    CREATED,
    START,
    Sessions,
    direct_messages,
    migrated,
    seed_nudge_round,
    start_clock,
    stop,
    until,
)

FEW: Final = 5
CHANNEL: Final = "C0NEWS"
SECONDS: Final = 90.0  # real seconds: deadline for each clock's work (a few seconds unloaded)
MANIFEST: Final = Path(__file__).parents[2] / "docs" / "slack-app-manifest.json"
# Slack's cap on conversations.history's `limit` for apps outside its Marketplace (every self-hosted
# Relais), since 2025: a larger one is not honoured.
SLACK_HISTORY_CAP: Final = 15


def _bot_scopes() -> set[str]:
    return set(json.loads(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


def _history_scope(fake_slack: FakeSlack, channel_id: str) -> str:
    """The scope Slack asks of an app reading this conversation's history."""
    channel = fake_slack.channels[channel_id]
    if channel.is_im:
        return "im:history"
    if channel.is_mpim:
        return "mpim:history"
    return "groups:history" if channel.is_private else "channels:history"


async def _counts(sessions: Sessions) -> dict[tuple[str, OutboxState], int]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.kind, OutboxMessage.state, func.count()).group_by(
                OutboxMessage.kind, OutboxMessage.state
            )
        )
        return {(kind, state): count for kind, state, count in rows.all()}


async def _interrupt_all(sessions: Sessions) -> None:
    """Every nudge and push back to `sending`, as a drainer killed after Slack's answer leaves it."""
    async with sessions() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind.in_((NUDGE_KIND, POST_KIND)))
            .values(state=OutboxState.SENDING, updated_at=START)
        )
        await session.commit()


def _channel_posts(fake_slack: FakeSlack) -> int:
    return len(fake_slack.messages.get(CHANNEL, []))


async def _restart(environment: dict[str, str], sessions: Sessions, hours: int) -> str:
    """A clock `hours` after `START` until every nudge and push is sent again; its log."""
    done = {(NUDGE_KIND, OutboxState.SENT): FEW, (POST_KIND, OutboxState.SENT): 1}

    async def all_sent() -> bool:
        counts = await _counts(sessions)
        return all(counts.get(key, 0) == count for key, count in done.items()) and not any(
            state is not OutboxState.SENT for _, state in counts
        )

    clock = await start_clock(environment, at=START + timedelta(hours=hours))
    try:
        await until(all_sent, within=SECONDS, what="every interrupted message settled", process=clock)
    finally:
        log = await stop(clock)
    return log


async def _sent_then_interrupted(
    environment: dict[str, str], sessions: Sessions, fake_slack: FakeSlack
) -> list[str]:
    """A clock sends FEW members their nudge and pushes a post to #news; then every row is put back to
    `sending` (Slack has them all) and the fake forgets its calls. Returns the members' ids."""
    members = await seed_nudge_round(sessions, fake_slack, FEW)
    async with sessions() as session:
        author = await session.scalar(select(Post.created_by_id))
        workspace_id = await session.scalar(select(Workspace.id))
        session.add(
            Post(
                workspace_id=workspace_id, url="https://example.com/news", title="News",
                captions=["News!"], networks=["linkedin"], channels=[CHANNEL], state=PostState.SCHEDULED,
                publish_at=START - timedelta(minutes=1), created_by_id=author,
                created_at=CREATED, updated_at=CREATED,
            )
        )  # fmt: skip
        await session.commit()
    first = await start_clock(environment, at=START)
    try:

        async def round_sent() -> bool:
            counts = await _counts(sessions)
            return (
                counts.get((NUDGE_KIND, OutboxState.SENT)) == FEW
                and counts.get((POST_KIND, OutboxState.SENT)) == 1
            )

        await until(round_sent, within=SECONDS, what="the nudges and the push", process=first)
    finally:
        await stop(first)
    assert direct_messages(fake_slack) == dict.fromkeys(members, 1)
    assert _channel_posts(fake_slack) == 1
    assert fake_slack.calls_to("conversations.history") == []  # never looked for in a normal send

    await _interrupt_all(sessions)
    fake_slack.reset()
    return members


async def test_interrupted_sends_are_looked_for_only_in_dms_and_never_lost(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel(CHANNEL, "news")
    async with migrated(empty_database_url, fake_slack) as (environment, _engine, sessions):
        members = await _sent_then_interrupted(environment, sessions, fake_slack)

        # Slack has them all; the rows say `sending`. The app asks im:history only.
        log = await _restart(environment, sessions, hours=1)
        looked = fake_slack.calls_to("conversations.history")
        scopes = _bot_scopes()
        asked = [_history_scope(fake_slack, str(call.params["channel"])) for call in looked]
        assert [scope for scope in asked if scope not in scopes] == [], asked  # never a missing_scope
        assert asked == ["im:history"] * FEW  # once per interrupted DM row
        assert all(int(call.params["limit"]) <= SLACK_HISTORY_CAP for call in looked)
        assert direct_messages(fake_slack) == dict.fromkeys(members, 1)  # found: not posted again
        assert _channel_posts(fake_slack) == 2  # not looked for: sent again (at least once)
        assert "could not look" not in log, log

        # An app installed before im:history was asked: Slack answers missing_scope to every look.
        await _interrupt_all(sessions)
        fake_slack.reset()
        fake_slack.fail_next("conversations.history", status=200, error="missing_scope", times=1000)
        log = await _restart(environment, sessions, hours=2)
        assert len(fake_slack.calls_to("conversations.history")) == FEW
        assert direct_messages(fake_slack) == dict.fromkeys(members, 2)  # sent again: at least once
        assert _channel_posts(fake_slack) == 3
        assert "missing_scope" not in log, log
        assert "could not look" not in log, log


async def test_a_look_slack_rate_limits_waits_and_looks_again_rather_than_posting_twice(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """Slack takes one conversations.history a minute from a self-hosted app: after a restart with
    several interrupted rows, all but the first look are refused (429, Retry-After: 60). Each member
    must still hold exactly one nudge."""
    fake_slack.add_channel(CHANNEL, "news")
    async with migrated(empty_database_url, fake_slack) as (environment, _engine, sessions):
        members = await _sent_then_interrupted(environment, sessions, fake_slack)
        fake_slack.fail_next("conversations.history", status=429, retry_after=60, times=FEW - 1)
        await _restart(environment, sessions, hours=1)
        assert direct_messages(fake_slack) == dict.fromkeys(members, 1)
