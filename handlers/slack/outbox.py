"""Drains the outbox through Slack right after a request enqueued something, in the request's workspace
only (the clock drains every workspace)."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.flows import membership
from bot.services import delivery
from bot.services.outbox import JITTER, WorkspacePace
from handlers.slack.installations import WorkspaceClients, installs_of, token_rotator
from handlers.slack.notifier import SlackNotifier, workspace_rate
from models import Platform

logger = logging.getLogger(__name__)


def clients_for(deps: Relais, client: AsyncWebClient) -> AsyncWebClient | WorkspaceClients:
    """The client of SLACK_BOT_TOKEN, or with installs each workspace's, copying `client`'s settings."""
    if not deps.settings.slack_installs:
        return client
    installs = installs_of(deps.settings, deps.sessions, deps.clock.now)
    return WorkspaceClients(installs, client, rotator=token_rotator(deps.settings, client, installs))


async def drain_outbox(deps: Relais, client: AsyncWebClient, team: str) -> None:
    """What the request enqueued in its workspace, Slack team `team` (the request's `team_id`), goes out
    now: that workspace's messages only, every other workspace's being the clock's."""
    try:
        workspace_id = await membership.workspace_id(deps.sessions, platform=Platform.SLACK, workspace=team)
    except Exception:
        logger.exception("draining the outbox failed; the clock will retry")
        return
    if workspace_id is not None:  # else Relais never met the workspace: it has nothing to send
        await drain_workspace(deps, client, workspace_id)


async def drain_workspace(deps: Relais, client: AsyncWebClient, workspace_id: int) -> None:
    """Workspace `workspace_id`'s messages, if it is a Slack workspace: another platform's wait for its
    own drainer. `client` is the request's or the app's; with installs every message goes out with its
    own workspace's token, never with the token of the workspace whose request started the drain
    (`clients_for`)."""
    rate = workspace_rate(deps.settings.slack_messages_per_minute)
    pace = WorkspacePace(deps.sessions, rate, margin=JITTER)
    notifiers = {Platform.SLACK.value: SlackNotifier(clients_for(deps, client), pace=pace)}
    try:
        await delivery.deliver(
            deps.sessions,
            notifiers=notifiers,
            now=deps.clock.now,
            admins=deps.settings.relais_admins,
            workspaces=[workspace_id],
        )
    except Exception:
        logger.exception("draining the outbox failed; the clock will retry")
