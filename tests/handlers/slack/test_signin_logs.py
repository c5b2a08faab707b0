"""`relais serve` at LOG_LEVEL=DEBUG while someone signs in with Slack: slack_sdk, aiohttp and the
database driver all log, and no secret of the sign-in is among what they log (the code, the state, the
PKCE verifier, the session's token and CSRF token, Slack's user token, the client secret)."""

from __future__ import annotations

import asyncio
import signal
from urllib.parse import parse_qs, urlsplit

import httpx

from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import setup_workspace
from tests.bot.test_cli import RELAIS, _environment, _wait_until_up
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, free_port


async def test_debug_logs_of_the_real_server_hold_no_secret_of_a_sign_in(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    migrated = await asyncio.create_subprocess_exec(
        RELAIS, "migrate", env=_environment(DATABASE_URL=empty_database_url)
    )
    assert await migrated.wait() == 0
    setup_workspace(fake_slack)
    fake_slack.sign_in_as("UEMP2")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        RELAIS,
        "serve",
        env=_environment(
            DATABASE_URL=empty_database_url,
            PORT=str(port),
            LOG_LEVEL="DEBUG",
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.api_url,
            SLACK_CLIENT_ID=fake_slack.client_id,
            SLACK_CLIENT_SECRET=fake_slack.client_secret,
            SLACK_OIDC_AUTHORIZE_URL=fake_slack.authorize_url,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
            await _wait_until_up(browser, process)
            to_slack = await browser.get("/login", params={"next": "/me"})
            async with httpx.AsyncClient() as slack_tab:
                back = (await slack_tab.get(to_slack.headers["location"])).headers["location"]
            query = parse_qs(urlsplit(back).query)
            landed = await browser.get(back)
            assert landed.status_code == 303
            me = await browser.get("/me")
            assert me.status_code == 200
            assert "Signed in as uemp2." in me.text  # the Slack directory's display name
        [session_token] = [value for name, value in browser.cookies.items() if name == "relais_session"]
        [access_token] = list(fake_slack._oidc_tokens)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        _, stderr = await process.communicate()
        logs = stderr.decode()
        assert " DEBUG " in logs
        assert "GET /login/slack/callback 303" in logs
        verifier = fake_slack.calls_to("openid.connect.token")[0].params["code_verifier"]
        csrf_token = me.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        secrets = [query["code"][0], query["state"][0], session_token, access_token, fake_slack.client_secret]
        secrets += [verifier, csrf_token]  # kept in the database: the driver's DEBUG lines must not show them
        for secret in secrets:
            assert secret not in logs
    finally:
        if process.returncode is None:
            process.kill()
