"""The seam between the core and the chat platforms (`bot.platforms`): adapters are found through entry
points, so the core serves a platform it never imports."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import platforms
from bot.config import ConfigError, Settings
from bot.core import Relais
from bot.notifier import Delivered, Notifier
from bot.web import create_app
from tests.conftest import running

SettingsFactory = Callable[..., Settings]


class QuietNotifier:
    async def send(self, *, kind: str, destination: str, payload: dict[str, Any]) -> Delivered:
        return Delivered(ok=True)


class Echo:
    """A platform adapter no module of the core names: one route answering with what the core holds."""

    name = "echo"

    def configured(self, settings: Settings) -> bool:
        return True

    def require(self, settings: Settings) -> None:
        pass

    def install(self, app: web.Application, core: Relais) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"base_url": core.settings.base_url})

        app.router.add_get("/echo", hello)

    async def drain(self, app: web.Application) -> None:
        pass

    def notifier(self, settings: Settings) -> Notifier:
        return QuietNotifier()


def _with_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install `Echo` beside the real adapters, as a package declaring the entry point would."""
    real = importlib.metadata.entry_points

    def entry_points(*, group: str) -> list[EntryPoint]:
        found: list[EntryPoint] = list(real(group=group))
        if group == platforms.PLATFORMS_GROUP:
            found.append(EntryPoint(name="echo", value=f"{__name__}:Echo", group=group))
        return found

    monkeypatch.setattr(platforms, "entry_points", entry_points)


def test_the_slack_adapter_is_found_through_its_entry_point() -> None:
    assert [platform.name for platform in platforms.installed()] == ["slack"]


def test_without_platform_settings_the_clock_has_no_notifier(make_settings: SettingsFactory) -> None:
    settings = make_settings(slack_bot_token=None, slack_signing_secret=None)
    assert platforms.configured(settings) == []
    assert platforms.clock_notifier(settings) is None


def test_an_incomplete_platform_is_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        platforms.clock_notifier(make_settings(slack_signing_secret=None))


async def test_an_installed_adapter_serves_its_routes_around_the_core(
    make_settings: SettingsFactory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_echo(monkeypatch)
    settings = make_settings(slack_bot_token=None, slack_signing_secret=None)
    async with running(create_app(settings, engine=engine)) as client:
        echoed = await client.get("/echo")
        slack = await client.post("/slack/events", content=b"{}")
    assert echoed.status_code == 200
    assert echoed.json() == {"base_url": settings.base_url}
    assert slack.status_code == 404  # Slack installed but not configured says so
    assert isinstance(platforms.clock_notifier(settings), QuietNotifier)


def test_two_configured_platforms_are_refused_until_the_outbox_routes_per_workspace(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_echo(monkeypatch)
    with pytest.raises(ConfigError, match="echo, slack"):
        platforms.clock_notifier(make_settings())
