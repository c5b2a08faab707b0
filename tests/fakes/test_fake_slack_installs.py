"""The fake Slack's OAuth v2 installs (`oauth/v2/authorize`, `oauth.v2.access`), driven through the real
slack_sdk client and a plain HTTP client for the browser's side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.fake_slack import FakeSlack

REDIRECT = "https://relais.example.test/slack/oauth_redirect"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user("UINSTALLER", is_admin=True)
        server.add_team("T0002", "Globex")
        server.add_team("T0EAST", "Initech East", enterprise_id="E0001", enterprise_name="Initech")
        yield server


async def authorize(fake: FakeSlack, **query: str) -> httpx.Response:
    params = {"client_id": fake.client_id, "scope": "commands,chat:write", "redirect_uri": REDIRECT}
    params.update(query)
    async with httpx.AsyncClient() as browser:
        return await browser.get(f"{fake.install_url}?{urlencode(params)}")


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302
    back = parse_qs(urlsplit(response.headers["location"]).query)
    return back["code"][0]


async def exchange(fake: FakeSlack, code: str, **overrides: str) -> dict[str, object]:
    client = AsyncWebClient(base_url=fake.api_url)
    arguments = {"client_id": fake.client_id, "client_secret": fake.client_secret, "redirect_uri": REDIRECT}
    arguments.update(overrides)
    return (await client.oauth_v2_access(code=code, **arguments)).data  # type: ignore[return-value]


async def test_an_install_gives_each_workspace_its_own_bot_token(fake: FakeSlack) -> None:
    fake.install_as("UINSTALLER", team_id="T0002")
    answer = await exchange(fake, code_of(await authorize(fake, state="s1")))
    assert answer["token_type"] == "bot"
    assert answer["team"] == {"id": "T0002", "name": "Globex"}
    assert answer["enterprise"] is None
    assert answer["authed_user"] == {"id": "UINSTALLER"}
    assert answer["is_enterprise_install"] is False
    token = str(answer["access_token"])
    assert token != fake.bot_token
    checked = await AsyncWebClient(token=token, base_url=fake.api_url).auth_test()
    assert (checked["team_id"], checked["bot_id"]) == ("T0002", "BT0002")
    assert checked.headers["x-oauth-scopes"]
    assert fake.install_of("T0002").bot_token == token

    fake.install_as("UINSTALLER", enterprise_id="E0001")
    org = await exchange(fake, code_of(await authorize(fake, state="s2")))
    assert org["team"] is None
    assert org["enterprise"] == {"id": "E0001", "name": "Initech"}
    assert org["is_enterprise_install"] is True

    fake.uninstall("T0002")
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(token=token, base_url=fake.api_url).auth_test()
    assert refused.value.response["error"] == "token_revoked"


async def test_the_authorize_page_and_the_exchange_refuse_what_slack_refuses(fake: FakeSlack) -> None:
    fake.install_as(None)
    assert (await authorize(fake)).status_code == 401  # nobody signed in to Slack
    assert (await authorize(fake, client_id="other")).status_code == 400
    fake.install_as("UINSTALLER", consents=False)
    cancelled = await authorize(fake, state="s")
    assert parse_qs(urlsplit(cancelled.headers["location"]).query) == {
        "state": ["s"],
        "error": ["access_denied"],
    }

    fake.install_as("UINSTALLER")
    for overrides, error in (
        ({"client_id": "0000.0000"}, "invalid_client_id"),
        ({"client_secret": "wrong"}, "bad_client_secret"),
        ({"redirect_uri": "https://elsewhere.test/back"}, "bad_redirect_uri"),
    ):
        code = code_of(await authorize(fake))
        with pytest.raises(SlackApiError) as refused:
            await exchange(fake, code, **overrides)
        assert refused.value.response["error"] == error
    code = code_of(await authorize(fake))
    await exchange(fake, code)
    with pytest.raises(SlackApiError) as reused:
        await exchange(fake, code)  # a code is used once
    assert reused.value.response["error"] == "invalid_code"


async def test_rotating_tokens_are_renewed_once_per_refresh_token(fake: FakeSlack) -> None:
    fake.token_lifetime = 43200
    fake.install_as("UINSTALLER", team_id="T0002")
    answer = await exchange(fake, code_of(await authorize(fake)))
    assert answer["expires_in"] == 43200
    refresh = str(answer["refresh_token"])
    client = AsyncWebClient(base_url=fake.api_url)
    renewed = await client.oauth_v2_access(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        grant_type="refresh_token",
        refresh_token=refresh,
    )
    assert renewed["token_type"] == "bot"
    assert renewed["access_token"] != answer["access_token"]
    assert renewed["refresh_token"] != refresh
    checked = await AsyncWebClient(token=str(renewed["access_token"]), base_url=fake.api_url).auth_test()
    assert checked["team_id"] == "T0002"
    with pytest.raises(SlackApiError) as reused:
        await client.oauth_v2_access(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            grant_type="refresh_token",
            refresh_token=refresh,
        )
    assert reused.value.response["error"] == "invalid_refresh_token"


async def test_a_workspaces_token_does_not_see_another_workspaces_people_or_channels(fake: FakeSlack) -> None:
    """Ids are per workspace: Globex's token gets `user_not_found` / `channel_not_found` for Acme's
    people and channels, and an organisation's token names the workspace whose channels it lists."""
    fake.add_user("UGLOBEX", team_id="T0002")
    fake.add_channel("C0GLOBEX", "globex-news", team_id="T0002")
    fake.add_user("UACME", team_id=fake.team_id)
    fake.add_channel("C0ACME", "acme-news", team_id=fake.team_id)
    fake.install_as("UINSTALLER", team_id="T0002")
    globex = AsyncWebClient(
        token=str((await exchange(fake, code_of(await authorize(fake, state="g"))))["access_token"]),
        base_url=fake.api_url,
    )
    assert (await globex.users_info(user="UGLOBEX"))["user"]["id"] == "UGLOBEX"
    assert (await globex.chat_postMessage(channel="C0GLOBEX", text="hi"))["ok"]
    for call, error in (
        (globex.users_info(user="UACME"), "user_not_found"),
        (globex.conversations_open(users="UACME"), "user_not_found"),
        (globex.chat_postMessage(channel="UACME", text="hi"), "user_not_found"),
        (globex.chat_postMessage(channel="C0ACME", text="hi"), "channel_not_found"),
    ):
        with pytest.raises(SlackApiError) as refused:
            await call
        assert refused.value.response["error"] == error
    listed = await globex.conversations_list(types="public_channel")
    assert "C0ACME" not in {c["id"] for c in listed["channels"]}
    assert "C0GLOBEX" in {c["id"] for c in listed["channels"]}
    acme = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as refused:
        await acme.users_info(user="UGLOBEX")
    assert refused.value.response["error"] == "user_not_found"

    fake.install_as("UINSTALLER", enterprise_id="E0001")
    org = AsyncWebClient(
        token=str((await exchange(fake, code_of(await authorize(fake, state="o"))))["access_token"]),
        base_url=fake.api_url,
    )
    with pytest.raises(SlackApiError) as refused:
        await org.conversations_list(types="public_channel")
    assert refused.value.response["error"] == "missing_argument"
    assert (await org.conversations_list(types="public_channel", team_id="T0EAST"))["ok"]
