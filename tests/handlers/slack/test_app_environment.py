"""Sign in with Slack's settings are named SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, and Bolt reads those
same names from the process environment: finding both, it turns to OAuth installs (a file-based
installation store) and drops the bot token, so every request to a Relais configured for sign-in through
its environment (as `relais serve` is) was answered "your installation with this app is no longer
available". Through a signed slash command into the running app."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from tests.handlers.slack.driver import SettingsFactory, relais_app, setup_workspace


async def test_sign_in_settings_in_the_environment_leave_the_bot_token_in_charge(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", fake_slack.client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", fake_slack.client_secret)
    setup_workspace(fake_slack)
    settings = make_settings(
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_oidc_authorize_url=fake_slack.authorize_url,
    )
    async with relais_app(settings, engine, clock, fake_slack) as slack:
        reply = await slack.command("UEMP2", "me")
    assert "no longer available" not in json.dumps(reply)
    assert "Your sharing" in json.dumps(reply)
