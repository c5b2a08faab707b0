"""Slack as the core sees it (`bot.platforms.Platform`), found through the `relais.platforms` entry point:
the one request URL with its signature check, Socket Mode, and the notifier the clock sends through."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

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
from handlers.slack.installations import (
    INSTALL_PATH,
    REDIRECT_PATH,
    WorkspaceClients,
    installs_of,
    token_rotator,
)
from handlers.slack.notifier import SlackNotifier, workspace_rate
from handlers.slack.outbox import drain_workspace
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
        if core.settings.slack_installs:
            app.router.add_get(INSTALL_PATH, handle_slack_install)
            app.router.add_get(REDIRECT_PATH, handle_slack_oauth_redirect)
        share_one_http_session(app, app[SLACK_APP_KEY])
        app.cleanup_ctx.append(_socket_mode)

    async def drain(self, app: web.Application, workspace_id: int) -> None:
        if SLACK_APP_KEY in app:
            await drain_workspace(app[CORE_KEY], app[SLACK_APP_KEY].client, workspace_id)

    def notifier(self, settings: Settings, sessions: Sessions, clock: Clock) -> Notifier:
        """Slack ids need no look-up; messages are paced to the workspace's cap with every other
        drainer's, and a 429 goes back to the outbox rather than holding the drain."""
        client = build_web_client(settings, rate_limit_retries=0)
        clients: AsyncWebClient | WorkspaceClients = client
        if settings.slack_installs:
            installs = installs_of(settings, sessions, clock.now)
            clients = WorkspaceClients(installs, client, rotator=token_rotator(settings, client, installs))
        return SlackNotifier(
            clients,
            pace=WorkspacePace(sessions, workspace_rate(settings.slack_messages_per_minute), margin=JITTER),
        )

    def sign_in(self, settings: Settings) -> SignInProvider | None:
        """Sign in with Slack (`bot.signin.SignsIn`), when SLACK_CLIENT_ID is set."""
        return sign_in(settings)


async def handle_slack_events(request: web.Request) -> web.StreamResponse:
    """Every Slack request (events, slash commands, interactivity) comes to this one URL; its signature
    is verified on the raw body before anything parses it (`handlers.slack.ingress`)."""
    return await request.app[SLACK_INGRESS_KEY].handle(request)


async def handle_slack_install(request: web.Request) -> web.StreamResponse:
    """`GET /slack/install`: Bolt's install page, its "Add to Slack" link carrying a new `state`, which
    its cookie binds to this browser (`handlers.slack.installations`)."""
    flow = request.app[SLACK_APP_KEY].oauth_flow
    assert flow is not None  # installs configured: the app was built with its OAuth flow
    return await to_aiohttp_response(await flow.handle_installation(_bolt_request(request)))


async def handle_slack_oauth_redirect(request: web.Request) -> web.StreamResponse:
    """`GET /slack/oauth_redirect`: Slack sends the installer back here with a code; Bolt checks the state
    (its cookie, then the store: single use, 10 minutes), exchanges the code with oauth.v2.access and
    stores the installation; a page tells how it went."""
    flow = request.app[SLACK_APP_KEY].oauth_flow
    assert flow is not None
    return await to_aiohttp_response(await flow.handle_callback(_bolt_request(request)))


def _bolt_request(request: web.Request) -> AsyncBoltRequest:
    """A browser's GET as Bolt reads it: its query and headers (the state cookie); no body."""
    return AsyncBoltRequest(
        body="",
        query=request.query_string,
        headers=request.headers,  # type: ignore[arg-type]  # a mapping of str, as Bolt's adapter passes
    )


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
