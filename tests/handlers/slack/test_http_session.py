"""One aiohttp session for every Slack call of the running app (`handlers.slack.app.share_one_http_session`):
the look-ups and answers after the acks reuse it rather than open a session and a connection each, and
it is closed when the server stops, after the work that follows the acks."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.web import create_app
from handlers.slack.platform import SLACK_APP_KEY
from tests.conftest import running
from tests.handlers.slack.driver import SettingsFactory, SlackDriver, setup_workspace

THANKS = "Thanks! Your share on X is counted."


async def test_the_answers_after_the_acks_share_one_session_closed_on_shutdown(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    article: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup_workspace(fake_slack)
    app = create_app(
        make_settings(), engine=engine, clock=clock, fetch_allowed_networks=(ip_network("127.0.0.2/32"),)
    )
    async with running(app) as client:
        slack = SlackDriver(client, fake_slack)
        shared = app[SLACK_APP_KEY].client.session
        assert isinstance(shared, aiohttp.ClientSession)
        assert not shared.closed
        await slack.command("UADMIN", f"queue <{article}/launch> <#C0NEWS|news>")
        await slack.settle()

        opened: list[Any] = []
        original = aiohttp.ClientSession.__init__

        def counting(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            opened.append(self)
            original(self, *args, **kwargs)

        monkeypatch.setattr(aiohttp.ClientSession, "__init__", counting)
        # First contacts: each click is answered through the response_url after a users.info look-up.
        clicks = [await slack.click(user, "open_share_x", "1:x") for user in ("UEMP1", "UEMP2", "UEMP3")]
        for sent, user in zip(clicks, ("UEMP1", "UEMP2", "UEMP3"), strict=True):
            [answer] = await slack.responses(sent.url_id)
            assert answer["text"] == (
                THANKS if user != "UEMP1" else "Merci ! Votre partage sur X est compté."
            )
        assert len(fake_slack.calls_to("users.info")) >= 3
        assert opened == []  # no session of its own for any look-up or answer
        monkeypatch.undo()
    assert shared.closed
    assert app[SLACK_APP_KEY].client.session is None
