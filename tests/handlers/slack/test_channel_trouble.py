"""What an admin reads in Slack when a channel cannot take Relais's messages: Slack's errors become the
core's neutral causes (`handlers.slack.notifier`), and the admin's words come from those, the same on
every platform, with Slack's own error named only where the text shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services import outbox
from handlers.slack.notifier import SlackNotifier
from models import Member, OutboxMessage, Platform, Workspace
from scheduler import jobs
from tests.conftest import BOT_TOKEN

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


async def test_a_channel_relais_is_not_in_is_told_without_a_slack_command(
    sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UADMIN", is_admin=True)
    fake_slack.add_channel("C0OUT", "outside", is_member=False)
    fake_slack.add_channel("C0OLD", "old", is_archived=True)
    async with sessions() as session:
        workspace = Workspace(
            platform=Platform.SLACK,
            external_id="T0001",
            timezone="Europe/Paris",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(workspace)
        await session.flush()
        session.add(
            Member(
                workspace_id=workspace.id, external_id="UADMIN", is_admin=True, created_at=NOW, updated_at=NOW
            )
        )
        for channel in ("C0OUT", "C0OLD"):
            await outbox.enqueue(
                session,
                workspace_id=workspace.id,
                kind="social_connected",
                destination=channel,
                payload={"network": "x", "lang": "en"},
                now=NOW,
            )
        await session.commit()
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    ctx = jobs.Context(sessions, {"slack": SlackNotifier(client)}, FrozenClock(NOW).now)

    await jobs.run_job(ctx, "outbox")

    async with sessions() as session:
        alerts = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "admin_alert"))
        ).all()
    assert sorted((a.payload["channel"], a.payload["cause"], a.payload["error"]) for a in alerts) == [
        ("C0OLD", "channel_archived", "is_archived"),
        ("C0OUT", "not_a_member", "not_in_channel"),
    ]
    told = sorted(
        str(c.params["text"])
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params["channel"] == "UADMIN"
    )
    assert told == [
        "I could not post in <#C0OLD>: the channel is archived. Choose another one with `/relais channel` or "
        "in the next post.",
        "I could not post in <#C0OUT>: I am not a member of it. Add me to the channel, or choose another one "
        "with `/relais channel` or in the next post.",
    ]
