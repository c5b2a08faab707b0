"""The seam between the core and the chat platforms (`bot.platforms`): adapters are found through entry
points, so the core serves a platform it never imports."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import platforms
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.core import Relais
from bot.db import Sessions
from bot.demo.fake_slack import FakeSlack
from bot.notifier import Delivered, Notifier, RatePolicy
from bot.services import outbox
from bot.services.connections import CONNECTED_KIND
from bot.web import create_app
from models import OutboxMessage, OutboxState, Platform, Workspace
from scheduler import jobs
from scheduler.clock import build_context
from tests.conftest import running

SettingsFactory = Callable[..., Settings]
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Recorder:
    """A notifier that sends nothing and remembers what it was given."""

    rate = RatePolicy(interval=timedelta(seconds=1), burst=3)

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, str]] = []

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        self.sent.append((workspace_id, kind, destination))
        return Delivered(ok=True, message_id=f"m{len(self.sent)}", channel=destination)


class Echo:
    """A platform adapter no module of the core names: one route answering with what the core holds."""

    name = "echo"
    command = ""

    def configured(self, settings: Settings) -> bool:
        return True

    def require(self, settings: Settings) -> None:
        pass

    def install(self, app: web.Application, core: Relais) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"base_url": core.settings.base_url})

        app.router.add_get("/echo", hello)

    async def drain(self, app: web.Application, workspace_id: int) -> None:
        pass

    def notifier(self, settings: Settings, sessions: Sessions, clock: Clock) -> Notifier:
        return RECORDER


RECORDER = Recorder()


class OtherChat(Echo):
    """Another chat platform, as the clock sees it: its workspaces' messages go to `RECORDER`."""

    name = "otherchat"


def _with_echo(monkeypatch: pytest.MonkeyPatch, name: str = "echo", adapter: str = "Echo") -> None:
    """Install `adapter` beside the real adapters, as a package declaring the entry point would."""
    real = importlib.metadata.entry_points

    def entry_points(*, group: str) -> list[EntryPoint]:
        found: list[EntryPoint] = list(real(group=group))
        if group == platforms.PLATFORMS_GROUP:
            found.append(EntryPoint(name=name, value=f"{__name__}:{adapter}", group=group))
        return found

    monkeypatch.setattr(platforms, "entry_points", entry_points)


def test_the_chat_adapters_are_found_through_their_entry_points() -> None:
    assert [platform.name for platform in platforms.installed()] == ["slack", "teams"]


async def test_without_platform_settings_the_clock_has_no_notifier(make_settings: SettingsFactory) -> None:
    settings = make_settings(slack_bot_token=None, slack_signing_secret=None)
    assert platforms.configured(settings) == []
    ctx, _, close = build_context(settings)
    await close()
    assert ctx.notifiers == {}


def test_an_incomplete_platform_is_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        build_context(make_settings(slack_signing_secret=None))


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
    assert [platform.name for platform in platforms.configured(settings)] == ["echo"]


async def test_the_clock_sends_each_workspaces_messages_through_its_own_platform(
    make_settings: SettingsFactory,
    sessions: async_sessionmaker[AsyncSession],
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slack and another platform configured at once: the clock serves both, each workspace's messages
    through its own platform's notifier, and neither ever sees the other's."""
    _with_echo(monkeypatch, "otherchat", "OtherChat")
    RECORDER.sent.clear()
    for user in ("UANA", "UCLEO"):
        fake_slack.add_user(user)
    async with sessions() as session:
        for platform, team in ((Platform.SLACK, "T0001"), ("otherchat", "tenant-1")):
            session.add(Workspace(platform=platform, external_id=team, created_at=NOW, updated_at=NOW))
        await session.flush()
        for workspace_id, destination in ((1, "UANA"), (2, "29:bob"), (2, "19:news@thread"), (1, "UCLEO")):
            payload = {"network": "x", "lang": "en"}
            await outbox.enqueue(
                session,
                workspace_id=workspace_id,
                kind=CONNECTED_KIND,
                destination=destination,
                payload=payload,
                now=NOW,
            )
        await session.commit()
    ctx, _, close = build_context(make_settings(), now=lambda: NOW)
    try:
        assert sorted(ctx.notifiers) == ["otherchat", "slack"]
        assert await jobs.run_job(ctx, "outbox") == "0 API shares, 4 messages"
    finally:
        await close()
    assert RECORDER.sent == [(2, CONNECTED_KIND, "29:bob"), (2, CONNECTED_KIND, "19:news@thread")]
    assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["UANA", "UCLEO"]
    async with sessions() as session:
        states = (await session.scalars(select(OutboxMessage.state).order_by(OutboxMessage.id))).all()
    assert states == [OutboxState.SENT] * 4


async def test_a_process_serving_one_platform_leaves_the_others_messages_waiting(
    make_settings: SettingsFactory, sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack
) -> None:
    """Only Slack configured: a Teams workspace's messages wait in the outbox (Slack never sends them)."""
    async with sessions() as session:
        session.add(
            Workspace(platform=Platform.TEAMS, external_id="tenant-1", created_at=NOW, updated_at=NOW)
        )
        await session.flush()
        await outbox.enqueue(
            session,
            workspace_id=1,
            kind=CONNECTED_KIND,
            destination="29:bob",
            payload={"network": "x", "lang": "en"},
            now=NOW,
        )
        await session.commit()
    ctx, _, close = build_context(make_settings(), now=lambda: NOW)
    try:
        assert sorted(ctx.notifiers) == ["slack"]
        assert await jobs.run_job(ctx, "outbox") == "0 API shares, 0 messages"
    finally:
        await close()
    assert fake_slack.calls_to("chat.postMessage") == []
    async with sessions() as session:
        row = (await session.scalars(select(OutboxMessage))).one()
    assert (row.state, row.attempts) == (OutboxState.PENDING, 0)
