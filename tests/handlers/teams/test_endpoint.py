"""Teams' request URL, `POST /api/messages`, through the running app: only activities carrying a valid Bot
Framework token (signed by the keys its OpenID metadata names, for this bot, for the activity's
serviceUrl) get in; every other request gets a 4xx and changes nothing, never a 5xx, even when the keys
cannot be fetched. Anonymous mode (a local client) answers only service URLs on this machine; without
any Teams setting the route answers 404."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from microsoft_agents.hosting.core import AnonymousTokenProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.demo.fake_teams import FakeTeams
from bot.inbound import BODY_TIMEOUT_SECONDS, MAX_BODY_BYTES
from bot.web import create_app
from handlers.teams.auth import RETRY_AFTER_FAILURE_SECONDS
from handlers.teams.platform import TEAMS_INGRESS_KEY, TeamsPlatform
from tests.bot.test_ingress import row_counts
from tests.conftest import running
from tests.fakes.bot_framework import KEYS_PATH, METADATA_PATH, FakeBotFramework, new_key
from tests.handlers.teams.driver import (
    APP_PASSWORD,
    FixedTokens,
    SettingsFactory,
    activity,
    teams_app,
)

ERROR_TYPE = "application/vnd.microsoft.error"


def _invoke(service_url: str) -> dict[str, Any]:
    """An invoke Relais does not handle: its answer (200 with an error body) shows the turn ran."""
    return activity(service_url, "invoke", name="composeExtension/query", value={"commandId": "x"})


async def _nothing_changed(engine: AsyncEngine, connector: FakeTeams) -> None:
    assert set((await row_counts(engine)).values()) == {0}
    assert connector.calls == []


async def test_without_teams_settings_the_route_answers_404(database_url: str, engine: AsyncEngine) -> None:
    settings = Settings(_env_file=None, database_url=database_url)
    async with running(create_app(settings, engine=engine)) as client:  # the installed platforms
        response = await client.post("/api/messages", json=activity("https://smba.trafficmanager.net/teams/"))
    assert response.status_code == 404
    assert "MICROSOFT_APP_ID" in response.json()["error"]


async def test_an_activity_signed_by_the_bot_framework_gets_in(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(activity(fake_teams.service_url))).status_code == 202
        answer = await teams.post(_invoke(fake_teams.service_url))
        assert answer.status_code == 200
        assert answer.json()["type"] == ERROR_TYPE
        # Within the Bot Connector's 5 minutes of clock skew, a token just expired is still good.
        late = "Bearer " + bot_framework.token(service_url=fake_teams.service_url, expires_in=-100)
        assert (await teams.post(activity(fake_teams.service_url), authorization=late)).status_code == 202
    assert bot_framework.fetches == [METADATA_PATH, KEYS_PATH]  # once for all: the keys are cached


# Each way a request's token can be wrong, as (authorization header, activity) from the fakes.
Case = Callable[[FakeBotFramework, str], tuple[str | None, dict[str, Any]]]


def _token(**wrong: Any) -> Case:
    def case(keys: FakeBotFramework, service_url: str) -> tuple[str | None, dict[str, Any]]:
        return "Bearer " + keys.token(**{"service_url": service_url, **wrong}), activity(service_url)

    return case


WRONG_TOKENS: dict[str, Case] = {
    "no Authorization header": lambda keys, url: (None, activity(url)),
    "not a bearer token": lambda keys, url: ("Basic " + keys.token(service_url=url), activity(url)),
    "an empty bearer token": lambda keys, url: ("Bearer", activity(url)),
    "not a JWT": lambda keys, url: ("Bearer not-a-token", activity(url)),
    "no key id": _token(kid=None),
    "a key id never published": _token(kid="key-9"),
    "a key id forging log lines": _token(kid="key-9\n2026-11-25 ERROR forged line"),
    "HS256 with a shared secret": _token(algorithm="HS256"),
    "signed by a key that is not the Bot Framework's": _token(key=new_key()),
    "for another bot": _token(audience="00000000-0000-4000-8000-0000000000ff"),
    "from another issuer": _token(issuer="https://sts.windows.net/evil/"),
    "expired beyond the clock skew": _token(expires_in=-400),
    "not valid yet": _token(not_before=600, expires_in=1200),
    "without an expiry": _token(omit=("exp",)),
    "without a service URL": _token(omit=("serviceurl",)),
    "for another service URL": _token(service_url="https://smba.trafficmanager.net/emea/"),
    "for a channel its key is not endorsed for": lambda keys, url: (
        "Bearer " + keys.token(service_url=url),
        activity(url, channelId="webchat"),
    ),
}


async def test_every_wrong_token_gets_401_and_changes_nothing(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        for name, case in WRONG_TOKENS.items():
            for kind in ("message", "invoke"):
                authorization, body = case(bot_framework, fake_teams.service_url)
                body["type"] = kind
                response = await teams.post(body, authorization=authorization)
                assert response.status_code == 401, (name, kind, response.text)
                assert response.json() == {"error": "invalid request"}
    await _nothing_changed(engine, fake_teams)
    assert not any("\n" in record.getMessage() for record in caplog.records)


async def test_unreachable_keys_get_401_then_tokens_are_accepted_again_once_they_are_back(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    now = [1000.0]
    platform = TeamsPlatform(tokens=FixedTokens(), monotonic=lambda: now[0])
    # An activity Relais lets in and does nothing with: only the refused ones are checked for effects.
    message = activity(fake_teams.service_url, "typing")
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams, platform=platform) as teams:
        for answer in ("down", "garbage"):
            bot_framework.answer = answer
            assert (await teams.post(message)).status_code == 401, answer
            now[0] += RETRY_AFTER_FAILURE_SECONDS
        bot_framework.answer = "ok"
        await bot_framework.stop()  # nothing listens on its port any more
        assert (await teams.post(message)).status_code == 401
        await bot_framework.start()
        # Just after a failure, tokens are refused at once rather than each waiting for the keys...
        fetched = len(bot_framework.fetches)
        assert (await teams.post(message)).status_code == 401
        assert len(bot_framework.fetches) == fetched
        # ... and a little later the keys are fetched again.
        now[0] += RETRY_AFTER_FAILURE_SECONDS
        assert (await teams.post(message)).status_code == 202
        await _nothing_changed(engine, fake_teams)


async def test_keys_already_fetched_still_serve_while_the_endpoint_is_down(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    now = [1000.0]
    platform = TeamsPlatform(tokens=FixedTokens(), monotonic=lambda: now[0], keys_cooldown=0)
    message = activity(fake_teams.service_url)
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams, platform=platform) as teams:
        assert (await teams.post(message)).status_code == 202
        await bot_framework.stop()
        # An unknown key id makes the key set be fetched, which fails...
        stranger = "Bearer " + bot_framework.token(service_url=fake_teams.service_url, kid="key-9")
        assert (await teams.post(message, authorization=stranger)).status_code == 401
        # ... and the known key still lets the Bot Framework's activities in meanwhile.
        assert (await teams.post(message)).status_code == 202


async def test_a_new_signing_key_is_fetched_when_a_token_names_it(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    platform = TeamsPlatform(tokens=FixedTokens(), keys_cooldown=0)
    message = activity(fake_teams.service_url)
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams, platform=platform) as teams:
        assert (await teams.post(message)).status_code == 202
        bot_framework.rotate()
        assert (await teams.post(message)).status_code == 202
    assert bot_framework.fetches == [METADATA_PATH, KEYS_PATH, KEYS_PATH]


async def test_unknown_key_ids_do_not_make_the_keys_be_fetched_again_and_again(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    message = activity(fake_teams.service_url)
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(message)).status_code == 202
        for kid in ("key-7", "key-8", "key-9"):
            stranger = "Bearer " + bot_framework.token(service_url=fake_teams.service_url, kid=kid)
            assert (await teams.post(message, authorization=stranger)).status_code == 401
    assert bot_framework.fetches == [METADATA_PATH, KEYS_PATH]  # the key set's cooldown


async def test_bodies_that_are_no_activity_get_400(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    url = fake_teams.service_url
    bearer = {"Authorization": "Bearer " + bot_framework.token(service_url=url)}
    bot_framework.endorsements = ("msteams", "msteams:copilot")
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        for content in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b"[" * 100_000):
            response = await teams.client.post("/api/messages", content=content, headers=bearer)
            assert response.status_code == 400, content[:20]
        product = {"type": "ProductInfo", "id": "elsewhere"}  # the SDK's own check: a bare Exception
        for wrong in (
            {"conversation": "a:1"},
            {"type": 5},
            {"from": ["29:ann"]},
            {"locale": None},
            {"channelId": "msteams:copilot", "entities": [product]},
        ):
            response = await teams.post(activity(url, **wrong))
            assert response.status_code == 400, wrong
            assert response.json() == {"error": "the request body is not an activity"}
    await _nothing_changed(engine, fake_teams)


async def test_huge_bodies_get_413_before_they_are_read(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    bearer = {"Authorization": "Bearer " + bot_framework.token(service_url=fake_teams.service_url)}

    async def chunks() -> Any:
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        sized = await teams.client.post("/api/messages", content=b" " * (MAX_BODY_BYTES + 1), headers=bearer)
        chunked = await teams.client.post("/api/messages", content=chunks(), headers=bearer)
    assert (sized.status_code, chunked.status_code) == (413, 413)
    assert bot_framework.fetches == []  # refused before any token was looked at


async def test_a_body_trickling_in_is_cut_off(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        url = teams.client.base_url
        assert url.host is not None
        assert url.port is not None
        reader, writer = await asyncio.open_connection(url.host, url.port)
        head = (
            "POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\nAuthorization: Bearer x.y.z\r\n\r\n{"
        )
        writer.write(head.encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), BODY_TIMEOUT_SECONDS + 3)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_when_the_bot_cannot_get_its_own_token_the_answer_is_503(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Microsoft Entra ID unreachable, or a wrong secret: nothing was done, and the Bot Framework may
    deliver the activity again (a deliberate 503, logged)."""

    class Unreachable(AnonymousTokenProvider):
        async def get_access_token(
            self, resource_url: str, scopes: list[str], force_refresh: bool = False
        ) -> str:
            raise ConnectionError("login.microsoftonline.com unreachable")

    platform = TeamsPlatform(tokens=Unreachable())
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams, platform=platform) as teams:
        response = await teams.post(activity(fake_teams.service_url))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "the SDK failed before its turn" in caplog.text
    await _nothing_changed(engine, fake_teams)


async def test_the_app_password_is_never_logged(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Built from the settings as `relais serve` builds it (MSAL, not a test provider), at DEBUG."""
    caplog.set_level(logging.DEBUG)
    async with teams_app(
        teams_settings(), engine, bot_framework, fake_teams, platform=TeamsPlatform()
    ) as teams:
        await teams.post(activity(fake_teams.service_url), authorization=None)
    assert caplog.records
    assert APP_PASSWORD not in caplog.text


# --- anonymous mode -------------------------------------------------------------------------------------


@pytest.fixture
def anonymous(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url, relais_teams_anonymous=True)


async def test_anonymous_mode_answers_local_clients_without_a_token(
    anonymous: Settings,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    local = fake_teams.service_url
    by_name = local.replace("127.0.0.1", "localhost")
    async with teams_app(anonymous, engine, bot_framework, fake_teams, platform=TeamsPlatform()) as teams:
        assert "RELAIS_TEAMS_ANONYMOUS is on" in caplog.text  # said at start
        assert (await teams.post(activity(local), authorization=None)).status_code == 202
        assert (await teams.post(activity(by_name), authorization=None)).status_code == 202
        ipv6 = activity(local.replace("127.0.0.1", "[::1]"))  # a message: nothing is sent back
        assert (await teams.post(ipv6, authorization=None)).status_code == 202
        answer = await teams.post(_invoke(local), authorization=None)
        assert (answer.status_code, answer.json()["type"]) == (200, ERROR_TYPE)
    assert bot_framework.fetches == []  # no token is looked at


async def test_anonymous_mode_refuses_clients_off_this_machine(
    anonymous: Settings, engine: AsyncEngine, bot_framework: FakeBotFramework, fake_teams: FakeTeams
) -> None:
    # `relais serve` listens on every interface: a client elsewhere on the network could otherwise act as
    # anyone (no token), and point Relais at any port of this machine.
    async with teams_app(anonymous, engine, bot_framework, fake_teams, platform=TeamsPlatform()) as teams:
        assert teams.app is not None
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None: (
            ("192.0.2.7", 50123) if name == "peername" else default
        )
        body = json.dumps(activity(fake_teams.service_url, text="help")).encode()
        request = make_mocked_request(
            "POST",
            "/api/messages",
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
            transport=transport,
            app=teams.app,
            payload=mock.Mock(read=mock.AsyncMock(return_value=body)),
        )
        response = await teams.app[TEAMS_INGRESS_KEY].handle(request)
        assert response.status == 401
    await _nothing_changed(engine, fake_teams)


@pytest.mark.parametrize(
    "service_url",
    [
        "https://smba.trafficmanager.net/teams/",
        "http://10.0.0.7:3978/_connector",
        "http://127.0.0.1.nip.io/teams/",
        "http://localhost.example.com/teams/",
        "file:///etc/passwd",
        "not a url",
        None,
    ],
)
async def test_anonymous_mode_refuses_service_urls_off_this_machine(
    anonymous: Settings,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
    service_url: str | None,
) -> None:
    async with teams_app(anonymous, engine, bot_framework, fake_teams, platform=TeamsPlatform()) as teams:
        signed = "Bearer " + bot_framework.token(service_url=str(service_url))  # a token changes nothing
        for authorization in (None, signed):
            response = await teams.post(activity(service_url), authorization=authorization)
            assert response.status_code == 401
    await _nothing_changed(engine, fake_teams)


# --- whatever comes in ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.dictionaries(
    st.sampled_from(["type", "serviceUrl", "channelId", "conversation", "from", "name", "value", "text"]),
    JSON,
    max_size=5,
)


async def test_whatever_comes_in_gets_a_4xx_and_changes_nothing(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        stale = bot_framework.token(service_url=fake_teams.service_url, audience="someone-else")

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            database=None,
            derandomize=True,
        )
        @given(
            fields=FIELDS,
            authorization=st.sampled_from([None, "Bearer", "Bearer " + stale, "Basic x"])
            | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip),
        )
        def examples(fields: dict[str, Any], authorization: str | None) -> None:
            body = {**activity(fake_teams.service_url), **fields}
            response = asyncio.run_coroutine_threadsafe(
                teams.post(body, authorization=authorization), loop
            ).result()
            assert response.status_code in (400, 401), (body, authorization, response.text)

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(examples)
    await _nothing_changed(engine, fake_teams)
