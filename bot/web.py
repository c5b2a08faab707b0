"""The aiohttp web application: Slack's one request URL, the health check (and later tracked links,
OAuth callbacks and Teams).

`create_app` only wires routes; what runs on startup and shutdown (Socket Mode, engine disposal) is
registered on the application's cleanup context so that tests and `relais serve` share it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.config import Settings
from handlers.slack import build_slack_app, build_socket_mode_handler

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 3.0

ENGINE_KEY = web.AppKey("engine", AsyncEngine)
SETTINGS_KEY = web.AppKey("settings", Settings)
SLACK_APP_KEY = web.AppKey("slack_app", AsyncApp)


def create_app(settings: Settings, *, engine: AsyncEngine | None = None) -> web.Application:
    """Build the web application. Raises `ConfigError` if Slack is configured incompletely.

    When `engine` is given the caller owns it; otherwise the app creates one and disposes of it on
    shutdown.
    """
    app = web.Application()
    app[SETTINGS_KEY] = settings
    owns_engine = engine is None
    app[ENGINE_KEY] = engine if engine is not None else db.create_engine(settings.database_url)

    app.router.add_get("/healthz", handle_healthz)
    if settings.slack_configured:
        slack_app = build_slack_app(settings)
        app[SLACK_APP_KEY] = slack_app
        app.router.add_post("/slack/events", handle_slack_events)
        app.cleanup_ctx.append(_socket_mode)
    else:
        app.router.add_post("/slack/events", handle_slack_not_configured)

    if owns_engine:
        app.on_cleanup.append(_dispose_engine)
    return app


async def handle_healthz(request: web.Request) -> web.Response:
    """200 when the database answers within a few seconds, 503 otherwise (load balancers read this)."""
    engine = request.app[ENGINE_KEY]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await db.ping(engine)
    except Exception as exc:
        # The reason is logged for the operator, not shown: it may name hosts or users.
        logger.warning("health check: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def handle_slack_events(request: web.Request) -> web.Response:
    """Every Slack request (events, slash commands, interactivity) comes to this one URL."""
    bolt_request = await to_bolt_request(request)
    bolt_response = await request.app[SLACK_APP_KEY].async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


async def handle_slack_not_configured(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "Slack is not configured on this server (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)"},
        status=404,
    )


async def _socket_mode(app: web.Application) -> AsyncIterator[None]:
    handler = build_socket_mode_handler(app[SLACK_APP_KEY], app[SETTINGS_KEY])
    if handler is not None:
        await handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
        logger.info("Slack Socket Mode connected")
    yield
    if handler is not None:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def _dispose_engine(app: web.Application) -> None:
    await app[ENGINE_KEY].dispose()
