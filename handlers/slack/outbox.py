"""Drains the outbox through Slack right after a request enqueued something (the clock drains too)."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.services import delivery
from bot.services.outbox import JITTER, WorkspacePace
from handlers.slack.notifier import SlackNotifier, workspace_rate
from models import Platform

logger = logging.getLogger(__name__)


async def drain_outbox(deps: Relais, client: AsyncWebClient) -> None:
    """Only Slack workspaces' messages: another platform's wait for its own drainer."""
    rate = workspace_rate(deps.settings.slack_messages_per_minute)
    pace = WorkspacePace(deps.sessions, rate, margin=JITTER)
    notifiers = {Platform.SLACK.value: SlackNotifier(client, pace=pace)}
    try:
        await delivery.deliver(
            deps.sessions, notifiers=notifiers, now=deps.clock.now, admins=deps.settings.relais_admins
        )
    except Exception:
        logger.exception("draining the outbox failed; the clock will retry")
