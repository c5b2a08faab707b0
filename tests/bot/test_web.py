"""The web app in a real aiohttp server on 127.0.0.1: health check and Slack request verification."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ConfigError, Settings
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import command_body, event_body, signed_headers
from bot.web import create_app
from models import Base
from tests.conftest import APP_TOKEN, SIGNING_SECRET, free_port, running

SettingsFactory = Callable[..., Settings]


async def _row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table.name: (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            for table in Base.metadata.sorted_tables
        }


async def test_healthz_reports_a_healthy_database(
    make_settings: SettingsFactory, engine: AsyncEngine
) -> None:
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_healthz_is_503_when_the_database_does_not_answer(
    make_settings: SettingsFactory, tmp_path: Path, kind: str
) -> None:
    url = (
        f"sqlite:///{tmp_path}/no/such/dir/relais.db"
        if kind == "sqlite"
        else f"postgresql://relais:secret-pw@127.0.0.1:{free_port()}/relais"
    )
    async with running(create_app(make_settings(database_url=url))) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert "secret-pw" not in response.text


def _url_verification() -> bytes:
    return json.dumps({"token": "t", "challenge": "challenge-123", "type": "url_verification"}).encode()


async def test_signed_url_verification_is_answered(
    make_settings: SettingsFactory, engine: AsyncEngine
) -> None:
    body = _url_verification()
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.post(
            "/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
        )
    assert response.status_code == 200
    assert response.json() == {"challenge": "challenge-123"}


BAD_SIGNATURES = {
    "missing": lambda body: {"Content-Type": "application/json"},
    "wrong secret": lambda body: signed_headers("not-the-secret", body),
    "six minutes old": lambda body: signed_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 360),
    "signed another body": lambda body: signed_headers(SIGNING_SECRET, body + b" "),
    "timestamp in the future": lambda body: signed_headers(
        SIGNING_SECRET, body, timestamp=int(time.time()) + 360
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SIGNATURES))
@pytest.mark.parametrize(
    "body",
    [
        _url_verification(),
        event_body({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}),
        command_body("queue https://example.com"),
    ],
    ids=["url_verification", "event", "slash_command"],
)
async def test_bad_signatures_get_401_and_change_nothing(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, case: str, body: bytes
) -> None:
    before = await _row_counts(engine)
    headers = BAD_SIGNATURES[case](body)
    if body.startswith(b"token="):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert "challenge-123" not in response.text
    assert await _row_counts(engine) == before
    assert fake_slack.calls == []


async def test_slack_route_explains_when_slack_is_not_configured(
    make_settings: SettingsFactory, engine: AsyncEngine
) -> None:
    settings = make_settings(slack_bot_token=None, slack_signing_secret=None)
    async with running(create_app(settings, engine=engine)) as client:
        response = await client.post("/slack/events", content=_url_verification())
    assert response.status_code == 404
    assert "SLACK_SIGNING_SECRET" in response.json()["error"]


def test_incomplete_slack_settings_are_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        create_app(make_settings(slack_signing_secret=None))


async def test_socket_mode_connects_when_an_app_token_is_set(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack
) -> None:
    async with running(create_app(make_settings(slack_app_token=APP_TOKEN), engine=engine)):
        await asyncio.wait_for(fake_slack.socket_connected_event.wait(), timeout=5)
        opened = fake_slack.calls_to("apps.connections.open")
        assert [call.token for call in opened] == [APP_TOKEN]


async def test_no_socket_mode_without_an_app_token(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack
) -> None:
    async with running(create_app(make_settings(), engine=engine)) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert fake_slack.calls_to("apps.connections.open") == []
