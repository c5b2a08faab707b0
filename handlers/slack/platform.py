"""Slack as the core sees it (`bot.platforms.Platform`), found through the `relais.platforms` entry point:
the one request URL with its signature check, Socket Mode, and the notifier the clock sends through."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.clock import Clock
from bot.config import Settings
from bot.core import Relais
from bot.db import Sessions
from bot.notifier import Notifier
from bot.services.outbox import JITTER, WorkspacePace
from bot.signin import SignInProvider
from handlers.slack.app import (
    build_slack_app,
    build_socket_mode_handler,
    build_web_client,
    share_one_http_session,
)
from handlers.slack.ingress import SlackIngress
from handlers.slack.notifier import SlackNotifier, workspace_rate
from handlers.slack.outbox import drain_outbox
from handlers.slack.signin import sign_in
from handlers.slack.text import COMMAND

logger = logging.getLogger(__name__)

SLACK_APP_KEY = web.AppKey("slack_app", AsyncApp)
SLACK_INGRESS_KEY = web.AppKey("slack_ingress", SlackIngress)
CORE_KEY = web.AppKey("slack_core", Relais)


class SlackPlatform:
    name = "slack"
    command = COMMAND

    def configured(self, settings: Settings) -> bool:
        return settings.slack_configured

    def require(self, settings: Settings) -> None:
        settings.require_slack()

    def install(self, app: web.Application, core: Relais) -> None:
        """Raises `ConfigError` (via `build_slack_app`) when the Slack credentials are incomplete."""
        if not core.settings.slack_configured:
            app.router.add_post("/slack/events", handle_slack_not_configured)
            return
        app[CORE_KEY] = core
        app[SLACK_APP_KEY] = build_slack_app(core.settings, core)
        assert core.settings.slack_signing_secret is not None  # build_slack_app refuses a missing one
        app[SLACK_INGRESS_KEY] = SlackIngress(
            app[SLACK_APP_KEY], core.settings.slack_signing_secret.get_secret_value()
        )
        app.router.add_post("/slack/events", handle_slack_events)
        share_one_http_session(app, app[SLACK_APP_KEY])
        app.cleanup_ctx.append(_socket_mode)

    async def drain(self, app: web.Application) -> None:
        if SLACK_APP_KEY in app:
            await drain_outbox(app[CORE_KEY], app[SLACK_APP_KEY].client)

    def notifier(self, settings: Settings, sessions: Sessions, clock: Clock) -> Notifier:
        """Slack ids need no look-up; messages are paced to the workspace's cap with every other
        drainer's, and a 429 goes back to the outbox rather than holding the drain."""
        return SlackNotifier(
            build_web_client(settings, rate_limit_retries=0),
            pace=WorkspacePace(sessions, workspace_rate(settings.slack_messages_per_minute), margin=JITTER),
        )

    def sign_in(self, settings: Settings) -> SignInProvider | None:
        """Sign in with Slack (`bot.signin.SignsIn`), when SLACK_CLIENT_ID is set."""
        return sign_in(settings)


async def handle_slack_events(request: web.Request) -> web.StreamResponse:
    """Every Slack request (events, slash commands, interactivity) comes to this one URL; its signature
    is verified on the raw body before anything parses it (`handlers.slack.ingress`)."""
    return await request.app[SLACK_INGRESS_KEY].handle(request)


async def handle_slack_not_configured(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "Slack is not configured on this server (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)"},
        status=404,
    )


async def _socket_mode(app: web.Application) -> AsyncIterator[None]:
    handler = build_socket_mode_handler(app[SLACK_APP_KEY], app[CORE_KEY].settings)
    if handler is not None:
        await handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
        logger.info("Slack Socket Mode connected")
    yield
    if handler is not None:
        await handler.close_async()  # type: ignore[no-untyped-call]
