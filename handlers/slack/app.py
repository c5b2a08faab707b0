"""Builds the Bolt AsyncApp (and its Socket Mode handler) from the settings.

Every HTTP request's signature (v0 HMAC-SHA256, 5-minute window) is verified on the raw body by
`handlers.slack.ingress` before anything parses it; Bolt checks it once more before any listener runs.
A request with a missing, wrong or stale signature gets 401 and touches nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.core import Relais
from handlers.slack.client import FittingWebClient
from handlers.slack.installations import (
    RelaisOAuthFlow,
    installs_of,
    not_installed_message,
    oauth_settings,
)
from handlers.slack.listeners import register
from handlers.slack.listeners.installs import register_installs

logger = logging.getLogger(__name__)

WEB_API_TIMEOUT_SECONDS = 10


def build_web_client(settings: Settings, *, rate_limit_retries: int = 2) -> AsyncWebClient:
    """The one Web API client (with SLACK_BOT_TOKEN; with installs, the one each workspace's client
    copies): `SLACK_API_URL` as base, retries on connection errors and on 429 (up to
    `rate_limit_retries` times, waiting for `Retry-After` with asyncio.sleep, never a blocking sleep);
    every message and view it sends is fitted to Slack's limits (`handlers.slack.client`). The clock's
    outbox notifier retries no 429 itself: the outbox puts the message back for `Retry-After` and sends
    the others meanwhile, where a retry in the client would hold the whole drain."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token is not None else None
    retry_handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler(max_retry_count=1)]
    if rate_limit_retries > 0:
        retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    return FittingWebClient(
        token=token,  # None with installs: each workspace's client gets its installation's token
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
        retry_handlers=retry_handlers,
    )


def build_slack_app(settings: Settings, deps: Relais) -> AsyncApp:
    """Raises `ConfigError` (via `require_slack`) when the Slack credentials are incomplete."""
    settings.require_slack()
    assert settings.slack_signing_secret is not None
    installs = installs_of(settings, deps.sessions, deps.clock.now) if settings.slack_installs else None
    with _hidden("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        app = AsyncApp(
            client=build_web_client(settings),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            # Ack first, then work: listeners may run after the HTTP response (Slack's 3-second rule).
            process_before_response=False,
            logger=logging.getLogger("relais.slack"),
            # Installs (SLACK_STATE_SECRET): each request's bot token from its workspace's installation.
            oauth_flow=RelaisOAuthFlow(settings=oauth_settings(settings, installs)) if installs else None,
            installation_store_bot_only=True if installs is not None else None,
            user_facing_authorize_error_message=not_installed_message() if installs is not None else None,
        )
    register(app, deps)
    if installs is not None:
        register_installs(app, installs)
    return app


def share_one_http_session(web_app: web.Application, slack_app: AsyncApp) -> None:
    """Every Web API call of the Slack app (Bolt gives each request a client copying the app client's
    session) and every `respond()` (`handlers.slack.client.install_fitting_respond`) go through one
    aiohttp session, opened when the server starts: without it slack_sdk opens a session and a TCP
    connection per call, about 0.3-0.5 ms of CPU each (docs/benchmarks.md). It is closed after the
    work Bolt runs after the acks has been waited for (`on_cleanup` runs after the cleanup contexts,
    which wait for it); a call after that opens its own session, as slack_sdk does without one."""

    async def open_session(_: web.Application) -> None:
        slack_app.client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=WEB_API_TIMEOUT_SECONDS)
        )

    async def close_session(_: web.Application) -> None:
        session, slack_app.client.session = slack_app.client.session, None
        if session is not None:
            await session.close()

    web_app.on_startup.append(open_session)
    web_app.on_cleanup.append(close_session)


@contextmanager
def _hidden(*names: str) -> Iterator[None]:
    """Environment variables Bolt must not see while it is built. Finding SLACK_CLIENT_ID and
    SLACK_CLIENT_SECRET in the environment, Bolt turns to OAuth installs (a file-based installation
    store) and drops the bot token, so nothing would be answered; in Relais those two are Sign in with
    Slack's settings (`bot.config`), not an installation flow."""
    kept = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(kept)


def build_socket_mode_handler(app: AsyncApp, settings: Settings) -> AsyncSocketModeHandler | None:
    """A Socket Mode connection when `SLACK_APP_TOKEN` is set (local development, single installs)."""
    if settings.slack_app_token is None:
        return None
    return AsyncSocketModeHandler(app, app_token=settings.slack_app_token.get_secret_value())
