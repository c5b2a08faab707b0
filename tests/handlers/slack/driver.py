"""The Slack tests' running app: `relais_app` serves Relais against the fake Slack and hands back the
driver (`bot.demo.workspace.SlackDriver`, shared with `relais demo`) that acts as Slack does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import TEAM, Sent, SlackDriver, eventually, setup_workspace
from bot.web import create_app
from tests.conftest import running, web_pages

# A Wednesday morning in Paris.
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


ARTICLE = """<!doctype html><html><head><title>Fallback title</title>
<meta property="og:title" content="Acme raises &amp; grows">
<meta property="og:description" content="Acme announces its new round.">
<meta property="og:image" content="/images/cover.png">
</head><body>Hello</body></html>"""


@asynccontextmanager
async def article_server() -> AsyncIterator[str]:
    """A public-looking page on 127.0.0.2 (loopback; the fetcher is told to allow that one address)."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=ARTICLE, content_type="text/html")

    async with web_pages(page) as base:
        yield base


@asynccontextmanager
async def relais_app(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock, fake: FakeSlack, **options: Any
) -> AsyncIterator[SlackDriver]:
    app = create_app(
        settings, engine=engine, clock=clock, fetch_allowed_networks=(ip_network("127.0.0.2/32"),), **options
    )
    async with running(app) as client:
        yield SlackDriver(client, fake)


def queue_form(
    url: str,
    *captions: str,
    networks: tuple[str, ...] = ("linkedin", "x"),
    channels: tuple[str, ...] = ("C0NEWS",),
    publish_at: object = None,
    expires_on: object = None,
) -> dict[str, dict[str, Any]]:
    """The queue modal's state as Slack submits it (values are taken as given: tests forge them too)."""
    values: dict[str, dict[str, Any]] = {
        "url": {"type": "url_text_input", "value": url},
        "networks": {"type": "checkboxes", "selected_options": [{"value": n} for n in networks]},
        "channels": {"type": "multi_conversations_select", "selected_conversations": list(channels)},
        "publish_at": {"type": "datetimepicker", "selected_date_time": publish_at},
        "expires_on": {"type": "datepicker", "selected_date": expires_on},
    }
    for index in range(1, 4):
        caption = captions[index - 1] if index <= len(captions) else None
        values[f"caption_{index}"] = {"type": "plain_text_input", "value": caption}
    return values


__all__ = [
    "START",
    "TEAM",
    "Sent",
    "SettingsFactory",
    "SlackDriver",
    "eventually",
    "queue_form",
    "relais_app",
    "setup_workspace",
]

SettingsFactory = Callable[..., Settings]
