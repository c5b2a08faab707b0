"""A reminder kept true, in Slack: once a member shares a post their sent reminder shows, the reminder
in their DM is edited in place (`chat.update` of the message Relais sent, in the DM's channel) to say
"✓ Shared on LinkedIn" instead of offering that share again; counted again, it is edited no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from handlers.slack.notifier import SlackNotifier
from models import Share, ShareStatus
from scheduler import jobs
from tests.conftest import BOT_TOKEN
from tests.handlers.slack.driver import SlackDriver
from tests.handlers.slack.test_queue_and_share import _buttons, _queue

Sessions = async_sessionmaker[AsyncSession]
# Tuesday 1 December 2026, 10:00 UTC: the reminders' moment (Tuesday 10:00) in London, Bob's zone.
NUDGE_TIME = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LATER = NUDGE_TIME + timedelta(hours=1)


def clock_job(fake: FakeSlack, sessions: Sessions, at: datetime) -> jobs.Context:
    """The clock's jobs at `at`, sending through the fake Slack (`relais jobs run --at`)."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    return jobs.Context(sessions, {"slack": SlackNotifier(client)}, FrozenClock(at).now)


def action_ids(message: dict[str, Any]) -> list[str]:
    return [str(button["action_id"]) for button in _buttons(message)]


async def test_a_share_marks_the_reminder_in_the_dm_in_place(
    slack: SlackDriver, article: str, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    await _queue(slack, sessions, article)
    await slack.command("UEMP2", "me")  # Bob, in London, is known to Relais
    await jobs.run_job(clock_job(fake_slack, sessions, NUDGE_TIME), "nudges")
    dm = fake_slack.dm_channel_id("UEMP2")
    (nudge,) = fake_slack.messages[dm]
    assert action_ids(nudge) == ["share_linkedin", "share_x", "edit_share", "not_for_me"]

    # Later that morning Bob shares on LinkedIn from his reminder: his personal link, opened.
    clock.set(LATER)
    clicked = await slack.click("UEMP2", "share_linkedin", "1", channel=dm, message_ts=nudge["ts"])
    assert (await slack.responses(clicked.url_id))[0]["text"].startswith("Share on LinkedIn")
    opened = await slack.click("UEMP2", "open_share_linkedin", "1:linkedin", channel=dm, ephemeral=True)
    assert (await slack.responses(opened.url_id))[0]["text"].startswith("Thanks!")
    assert fake_slack.calls_to("chat.update") == []

    assert await jobs.run_job(clock_job(fake_slack, sessions, LATER), "outbox") == "0 API shares, 1 messages"
    (update,) = fake_slack.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (dm, nudge["ts"])
    marked = fake_slack.find_message(dm, nudge["ts"])
    assert marked is not None
    assert "✓ Shared on LinkedIn" in str(marked["blocks"])
    assert "Shared on X" not in str(marked["blocks"])
    assert action_ids(marked) == ["share_x", "edit_share"]
    assert len(fake_slack.messages[dm]) == 1  # the same message, edited

    # The open button clicked again: one share, no second edit.
    again = await slack.click("UEMP2", "open_share_linkedin", "1:linkedin", channel=dm, ephemeral=True)
    assert again.status == 200
    assert await jobs.run_job(clock_job(fake_slack, sessions, LATER), "outbox") == "0 API shares, 0 messages"
    assert len(fake_slack.calls_to("chat.update")) == 1
    async with sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
    assert (share.network.value, share.status) == ("linkedin", ShareStatus.INTENT)
