"""A single-tenant bot's tokens from Microsoft Entra ID, through `POST /api/messages` of the running app.

Azure creates only SingleTenant and UserAssignedMSI bots since 2025-07-31, and such a bot may be sent
tokens that Entra issued for its own tenant rather than the Bot Framework's (docs/teams-sdk-notes.md
§1.5). Relais takes them, v1 and v2, from that tenant only, signed by the keys the tenant's metadata
names (`MICROSOFT_LOGIN_URL`, here a fake on 127.0.0.1), for this bot, not expired; every other one gets
401 and changes nothing, even when Entra's keys cannot be fetched. A token that names no service URL
lets Relais answer only a Bot Connector host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import pytest
from microsoft_agents.hosting.core import AnonymousTokenProvider
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings, load_settings
from bot.demo.fake_teams import FakeTeams
from handlers.teams.auth import RETRY_AFTER_FAILURE_SECONDS
from handlers.teams.platform import TeamsPlatform
from models import Member, Workspace
from tests.bot.test_ingress import row_counts
from tests.fakes.bot_framework import (
    ENTRA_KEYS_PATH,
    ENTRA_METADATA_PATH,
    ISSUER,
    FakeBotFramework,
    FakeEntra,
    new_key,
)
from tests.handlers.teams.driver import (
    APP_ID,
    OUTBOUND_TOKEN,
    TENANT,
    SettingsFactory,
    activity,
    teams_app,
)
from tests.handlers.teams.test_install import card_text

Sessions = async_sessionmaker[AsyncSession]
PERSONAL = "a:1-bob-personal"
BOB = {"id": "29:bob", "aadObjectId": "aad-bob", "name": "Bob Stone"}
OTHER_TENANT = "b7a1c9de-0000-4000-8000-0000000000bb"
# The scope of the bot's own token for its replies through the Bot Connector.
BOT_CONNECTOR_SCOPE = "https://api.botframework.com/.default"
ELSEWHERE = "https://relais-replies.evil.example/teams/"


class RecordingTokens(AnonymousTokenProvider):
    """The bot's own credentials (Entra out of reach here), noting what each token was asked for."""

    def __init__(self) -> None:
        self.scopes: list[list[str]] = []

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.scopes.append(list(scopes))
        return OUTBOUND_TOKEN


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    async with FakeEntra(app_id=APP_ID) as fake:
        yield fake


@pytest.fixture
def single_tenant(teams_settings: SettingsFactory, entra: FakeEntra) -> SettingsFactory:
    """Settings of a SingleTenant bot of the tenant `TENANT`, Entra pointed at the fake."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "microsoft_app_type": "SingleTenant",
            "microsoft_app_tenant_id": TENANT,
            "microsoft_login_url": entra.login_url,
        }
        return teams_settings(**{**values, **overrides})

    return make


def bearer(token: str) -> str:
    return "Bearer " + token


def install(service_url: str) -> dict[str, Any]:
    """Bob adds Relais in a personal chat: he is welcomed there, and becomes a member (and an admin)."""
    return activity(
        service_url,
        "installationUpdate",
        action="add",
        text=None,
        **{
            "from": BOB,
            "conversation": {"id": PERSONAL, "conversationType": "personal", "tenantId": TENANT},
            "entities": [{"type": "clientInfo", "locale": "en-GB", "timezone": "Europe/Paris"}],
            "locale": "en-GB",
        },
    )


async def _nothing_changed(engine: AsyncEngine, connector: FakeTeams) -> None:
    assert set((await row_counts(engine)).values()) == {0}
    assert connector.calls == []


@pytest.mark.parametrize(
    ("app_type", "version", "service_url_claim"),
    [
        ("SingleTenant", 1, False),
        ("SingleTenant", 2, False),
        ("SingleTenant", 2, True),
        ("UserAssignedMSI", 1, True),
        ("UserAssignedMSI", 2, False),
    ],
)
async def test_a_single_tenant_bot_takes_entra_tokens_of_its_own_tenant(
    single_tenant: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
    app_type: str,
    version: Literal[1, 2],
    service_url_claim: bool,
) -> None:
    fake_teams.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
    fake_teams.add_conversation(PERSONAL, conversation_type="personal", members=["29:bob"])
    url = fake_teams.service_url
    token = entra.token(tenant=TENANT, version=version, service_url=url if service_url_claim else None)
    tokens = RecordingTokens()
    platform = TeamsPlatform(tokens=tokens)
    settings = single_tenant(microsoft_app_type=app_type)
    async with teams_app(settings, engine, bot_framework, fake_teams, platform=platform) as teams:
        assert (await teams.post(install(url), authorization=bearer(token))).status_code == 202
    (welcome,) = fake_teams.activities(PERSONAL)
    assert "👋 Relais is installed" in card_text(welcome)
    async with sessions() as session:
        bob = (await session.scalars(select(Member))).one()
        workspace = (await session.scalars(select(Workspace))).one()
    assert (bob.external_id, bob.display_name, bob.is_admin) == ("aad-bob", "Bob Stone", True)
    assert workspace.external_id == TENANT
    # The reply went out as the channel's: an Entra token is no call from another agent.
    assert tokens.scopes
    assert all(scopes == [BOT_CONNECTOR_SCOPE] for scopes in tokens.scopes)
    assert entra.fetches == [ENTRA_METADATA_PATH.format(tenant=TENANT), ENTRA_KEYS_PATH.format(tenant=TENANT)]
    assert bot_framework.fetches == []  # an Entra token is checked with Entra's keys only


async def test_a_single_tenant_bot_still_takes_the_bot_frameworks_tokens(
    single_tenant: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
) -> None:
    async with teams_app(single_tenant(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(activity(fake_teams.service_url, "typing"))).status_code == 202
    assert entra.fetches == []


async def test_a_single_tenant_bot_answers_its_own_tenant_only(
    single_tenant: SettingsFactory,
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    # Another organisation that uploads a package naming this bot gets nothing from this deployment (its
    # people would otherwise get a workspace here, with this deployment's social apps and outbox).
    elsewhere = install(fake_teams.service_url)
    elsewhere["conversation"]["tenantId"] = "other-tenant"
    elsewhere["channelData"] = {"tenant": {"id": "other-tenant"}}
    async with teams_app(single_tenant(), engine, bot_framework, fake_teams) as teams:
        response = await teams.post(elsewhere)
        assert (response.status_code, response.json()) == (
            403,
            {"error": "this Relais serves another tenant"},
        )
    await _nothing_changed(engine, fake_teams)
    # Its own tenant, written in capitals (tenant ids are GUIDs, in any case), is served.
    async with teams_app(
        single_tenant(microsoft_app_tenant_id=TENANT.upper()), engine, bot_framework, fake_teams
    ) as teams:
        assert (await teams.post(install(fake_teams.service_url))).status_code == 202
    # A MultiTenant bot serves every tenant.
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(elsewhere)).status_code == 202


# Each way an Entra token can be wrong for the SingleTenant bot of TENANT: (authorization, activity).
Case = Callable[[FakeEntra, FakeBotFramework, str], tuple[str, dict[str, Any]]]


def _entra(**wrong: Any) -> Case:
    def case(entra: FakeEntra, keys: FakeBotFramework, url: str) -> tuple[str, dict[str, Any]]:
        return bearer(entra.token(**{"tenant": TENANT, **wrong})), activity(url)

    return case


def _to(service_url: str, **token: Any) -> Case:
    def case(entra: FakeEntra, keys: FakeBotFramework, url: str) -> tuple[str, dict[str, Any]]:
        return bearer(entra.token(**{"tenant": TENANT, **token})), activity(service_url)

    return case


WRONG_ENTRA_TOKENS: dict[str, Case] = {
    "v1, of another tenant": _entra(version=1, tenant=OTHER_TENANT),
    "v2, of another tenant": _entra(version=2, tenant=OTHER_TENANT),
    "the bot's tenant as issuer, another as tid": _entra(tid=OTHER_TENANT),
    "without a tid": _entra(tid=None),
    "v2 issuer of another cloud": _entra(issuer=f"https://login.microsoftonline.us/{TENANT}/v2.0"),
    "for another app": _entra(audience="00000000-0000-4000-8000-0000000000ff"),
    "for the Bot Framework": _entra(audience="https://api.botframework.com"),
    "expired beyond the clock skew": _entra(expires_in=-400),
    "no key id": _entra(kid=None),
    "a key id never published": _entra(kid="entra-key-9"),
    "HS256 with a shared secret": _entra(algorithm="HS256"),
    "signed by a key that is not Entra's": _entra(key=new_key()),
    "for another service URL": _entra(service_url="https://smba.trafficmanager.net/emea/"),
    "signed by the Bot Framework's key, claiming Entra's issuer": lambda entra, keys, url: (
        bearer(entra.token(tenant=TENANT, key=keys.keys[keys.current])),
        activity(url),
    ),
    "the Bot Framework's key and key id, claiming Entra's issuer": lambda entra, keys, url: (
        bearer(entra.token(tenant=TENANT, key=keys.keys[keys.current], kid=keys.current)),
        activity(url),
    ),
    "signed by Entra's key, claiming the Bot Framework's issuer": lambda entra, keys, url: (
        bearer(entra.token(tenant=TENANT, issuer=ISSUER, service_url=url)),
        activity(url),
    ),
    "Entra's key under the Bot Framework's key id, claiming its issuer": lambda entra, keys, url: (
        bearer(entra.token(tenant=TENANT, issuer=ISSUER, service_url=url, kid=keys.current)),
        activity(url),
    ),
    # Without a serviceurl claim, only a Bot Connector host is trusted.
    "no service URL, replies elsewhere": _to(ELSEWHERE),
    "no service URL, replies over http": _to("http://smba.trafficmanager.net/teams/"),
    "no service URL, a look-alike host": _to("https://smba.trafficmanager.net.evil.example/teams/"),
    "no service URL, a look-alike domain": _to("https://evilbotframework.com/teams/"),
    "no service URL, none in the activity": _to("not a url"),
}


async def test_every_wrong_entra_token_gets_401_and_changes_nothing(
    single_tenant: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
) -> None:
    async with teams_app(single_tenant(), engine, bot_framework, fake_teams) as teams:
        for name, case in WRONG_ENTRA_TOKENS.items():
            for kind in ("message", "invoke"):
                authorization, body = case(entra, bot_framework, fake_teams.service_url)
                body["type"] = kind
                response = await teams.post(body, authorization=authorization)
                assert response.status_code == 401, (name, kind, response.text)
                assert response.json() == {"error": "invalid request"}
    await _nothing_changed(engine, fake_teams)


async def test_a_multi_tenant_bot_refuses_entra_tokens(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
) -> None:
    """Even with a tenant and Entra's host set: a MultiTenant bot is sent the Bot Framework's tokens."""
    settings = teams_settings(microsoft_app_tenant_id=TENANT, microsoft_login_url=entra.login_url)
    url = fake_teams.service_url
    async with teams_app(settings, engine, bot_framework, fake_teams) as teams:
        for version in (1, 2):
            for service_url in (None, url):
                token = entra.token(tenant=TENANT, version=version, service_url=service_url)
                response = await teams.post(activity(url), authorization=bearer(token))
                assert response.status_code == 401, (version, service_url)
    assert entra.fetches == []
    await _nothing_changed(engine, fake_teams)


@pytest.mark.parametrize(
    "service_url",
    [
        "https://smba.trafficmanager.net/teams/",
        "https://smba.trafficmanager.net/emea/",
        "https://smba.infra.gcc.teams.microsoft.com/teams/",
        "https://smba.infra.gov.teams.microsoft.us/teams/",
        "https://SMBA.trafficmanager.net:443/amer/",
    ],
)
async def test_an_entra_token_without_service_url_lets_relais_answer_the_bot_connector(
    single_tenant: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
    service_url: str,
) -> None:
    """An activity Relais lets in and does nothing with (typing): nothing goes out to these hosts."""
    token = bearer(entra.token(tenant=TENANT))
    async with teams_app(single_tenant(), engine, bot_framework, fake_teams) as teams:
        response = await teams.post(activity(service_url, "typing"), authorization=token)
    assert response.status_code == 202
    await _nothing_changed(engine, fake_teams)


async def test_unreachable_entra_keys_get_401_while_the_bot_frameworks_tokens_get_in(
    single_tenant: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
) -> None:
    now = [1000.0]
    platform = TeamsPlatform(tokens=RecordingTokens(), monotonic=lambda: now[0])
    typing = activity(fake_teams.service_url, "typing")
    async with teams_app(single_tenant(), engine, bot_framework, fake_teams, platform=platform) as teams:

        async def with_entra() -> int:
            return (await teams.post(typing, authorization=bearer(entra.token(tenant=TENANT)))).status_code

        for answer in ("down", "garbage"):
            entra.answer = answer
            assert await with_entra() == 401, answer
            assert (await teams.post(typing)).status_code == 202  # the Bot Framework's keys are apart
            now[0] += RETRY_AFTER_FAILURE_SECONDS
        entra.answer = "ok"
        await entra.stop()  # nothing listens on its port any more
        assert await with_entra() == 401
        await entra.start()
        # Just after a failure, Entra tokens are refused at once rather than each waiting for the keys...
        fetched = len(entra.fetches)
        assert await with_entra() == 401
        assert len(entra.fetches) == fetched
        # ... and a little later the keys are fetched again.
        now[0] += RETRY_AFTER_FAILURE_SECONDS
        assert await with_entra() == 202
    await _nothing_changed(engine, fake_teams)


async def test_entra_keys_are_cached_and_fetched_again_for_a_new_key(
    single_tenant: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    fake_teams: FakeTeams,
) -> None:
    platform = TeamsPlatform(tokens=RecordingTokens(), keys_cooldown=0)
    typing = activity(fake_teams.service_url, "typing")
    async with teams_app(single_tenant(), engine, bot_framework, fake_teams, platform=platform) as teams:
        for version in (1, 2):
            token = bearer(entra.token(tenant=TENANT, version=version))
            assert (await teams.post(typing, authorization=token)).status_code == 202
        entra.rotate()
        token = bearer(entra.token(tenant=TENANT))
        assert (await teams.post(typing, authorization=token)).status_code == 202
    metadata, keys = ENTRA_METADATA_PATH.format(tenant=TENANT), ENTRA_KEYS_PATH.format(tenant=TENANT)
    assert entra.fetches == [metadata, keys, keys]


def test_microsoft_login_url_is_an_http_url_defaulting_to_entras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MICROSOFT_LOGIN_URL", raising=False)
    assert load_settings().microsoft_login_url == "https://login.microsoftonline.com"
    monkeypatch.setenv("MICROSOFT_LOGIN_URL", "http://127.0.0.1:8400/")
    assert load_settings().microsoft_login_url == "http://127.0.0.1:8400"
    monkeypatch.setenv("MICROSOFT_LOGIN_URL", "login.microsoftonline.com")
    with pytest.raises(ConfigError, match=r"^MICROSOFT_LOGIN_URL is invalid \(") as caught:
        load_settings()
    assert "\n" not in str(caught.value)
