"""End to end: signing in to Relais's web pages with Microsoft (OpenID Connect against a fake Microsoft Entra
ID on 127.0.0.1, with the bot's app registration), through HTTP into the running app: the session it
opens and `/me`, and every refusal (state, PKCE, nonce, another tenant, a wrong client secret, a forged
ID token), each storing nothing."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from handlers.slack.platform import SlackPlatform
from handlers.teams.platform import TeamsPlatform
from models import Member, SignInAttempt, WebSession, Workspace
from tests.fakes.bot_framework import FakeBotFramework, FakeEntra, new_key
from tests.handlers.slack.driver import relais_app, setup_workspace
from tests.handlers.slack.test_signin import Browser, s256
from tests.handlers.teams.driver import APP_ID, APP_PASSWORD, START, TENANT, FixedTokens, SettingsFactory
from tests.handlers.teams.team import Team, installed_team

Sessions = async_sessionmaker[AsyncSession]
PUBLIC = "https://relais.example.test"
CALLBACK = f"{PUBLIC}/login/microsoft/callback"
OTHER_TENANT = "b7a1c9de-0000-4000-8000-0000000000bb"


def shown(response: httpx.Response) -> str:
    return html.unescape(response.text)


@dataclass
class Site:
    browser: Browser
    entra: FakeEntra
    team: Team
    sessions: Sessions

    async def to_microsoft(self, next_path: str = "/me", **headers: str) -> httpx.Response:
        response = await self.browser.get("/login", params={"next": next_path}, headers=headers)
        assert response.status_code == 302, response.text
        return response

    async def consent(self, authorize: httpx.Response) -> str:
        """Open the authorize page (as whoever `entra.sign_in_as` named): the callback's path and query."""
        async with httpx.AsyncClient() as microsoft_tab:
            answer = await microsoft_tab.get(authorize.headers["location"])
        assert answer.status_code == 302, answer.text
        back = urlsplit(answer.headers["location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
        return f"{back.path}?{back.query}"

    async def sign_in(self, oid: str = "aad-bob", *, tenant: str = TENANT, **headers: str) -> httpx.Response:
        self.entra.sign_in_as(oid, tenant=tenant, name="Bob Stone", username="bob@acme.example")
        return await self.browser.get(await self.consent(await self.to_microsoft()), headers=headers)

    async def count(self, model: Any) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def nothing_stored(self) -> None:
        """No session, and no member or workspace beyond those the install made."""
        assert self.browser.cookie("relais_session") is None
        assert await self.count(WebSession) == 0
        assert await self.count(Workspace) == 1
        async with self.sessions() as session:
            assert set(await session.scalars(select(Member.external_id))) <= {"aad-ann", "aad-bob"}


@pytest.fixture
def microsoft_settings(teams_settings: SettingsFactory, entra: FakeEntra) -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        return teams_settings(**{"microsoft_login_url": entra.login_url, **overrides})

    return make


@asynccontextmanager
async def site_with(
    settings: Settings, engine: AsyncEngine, bot_framework: FakeBotFramework, entra: FakeEntra
) -> AsyncIterator[Site]:
    """Relais installed in the team of `TENANT` (Ann and Bob are members), with these settings."""
    sessions = db.session_factory(engine)
    async with installed_team(settings, engine, sessions, bot_framework) as team:
        yield Site(Browser(team.teams.client), entra, team, sessions)


@pytest.fixture
async def site(
    microsoft_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
) -> AsyncIterator[Site]:
    """A MultiTenant bot: people of any tenant Relais serves (here `TENANT`) may sign in."""
    async with site_with(microsoft_settings(), engine, bot_framework, entra) as found:
        yield found


@pytest.fixture
async def single_tenant_site(
    microsoft_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
) -> AsyncIterator[Site]:
    settings = microsoft_settings(microsoft_app_type="SingleTenant", microsoft_app_tenant_id=TENANT)
    async with site_with(settings, engine, bot_framework, entra) as found:
        yield found


async def test_sign_in_with_microsoft_opens_a_session_and_me_names_the_member(site: Site) -> None:
    authorize = await site.to_microsoft("/me")
    target = urlsplit(authorize.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        f"{site.entra.login_url}/organizations/oauth2/v2.0/authorize"
    )
    query = {name: values[0] for name, values in parse_qs(target.query).items()}
    async with site.sessions() as session:
        [attempt] = (await session.scalars(select(SignInAttempt))).all()
    assert (query["client_id"], query["response_type"], query["scope"]) == (APP_ID, "code", "openid profile")
    assert query["redirect_uri"] == CALLBACK
    assert query["state"] == site.browser.cookie("relais_signin")
    assert query["nonce"] == attempt.nonce
    assert (query["code_challenge"], query["code_challenge_method"]) == (s256(attempt.code_verifier), "S256")
    assert attempt.code_verifier not in authorize.headers["location"]

    site.entra.sign_in_as("aad-bob", tenant=TENANT, name="Bob Stone", username="bob@acme.example")
    landed = await site.browser.get(await site.consent(authorize))
    assert (landed.status_code, landed.headers["location"]) == (303, "/me")
    assert site.browser.cookie("relais_signin") is None

    # The code was redeemed with the app registration's secret, the same redirect URI and the verifier.
    [exchange] = site.entra.token_requests
    assert (exchange["client_id"], exchange["client_secret"]) == (APP_ID, APP_PASSWORD)
    assert (exchange["redirect_uri"], exchange["code_verifier"]) == (CALLBACK, attempt.code_verifier)

    # The member is the tenant's person as Teams names them (the install met Bob by his object id).
    async with site.sessions() as session:
        [row] = (await session.scalars(select(WebSession))).all()
        member = await session.get_one(Member, row.member_id)
        workspace = await session.get_one(Workspace, member.workspace_id)
    assert (workspace.platform, workspace.external_id, member.external_id) == ("teams", TENANT, "aad-bob")
    assert member.id == (await site.team.member("aad-bob")).id
    page = await site.browser.get("/me")
    assert page.status_code == 200
    assert "Bob Stone" in shown(page)


async def test_a_single_tenant_bot_signs_in_its_tenants_people_at_its_tenant(
    single_tenant_site: Site,
) -> None:
    site = single_tenant_site
    authorize = await site.to_microsoft()
    assert authorize.headers["location"].startswith(f"{site.entra.login_url}/{TENANT}/oauth2/v2.0/authorize?")
    site.entra.sign_in_as("aad-ann", tenant=TENANT, name="Ann Lee")
    landed = await site.browser.get(await site.consent(authorize))
    assert landed.status_code == 303
    assert "Ann Lee" in shown(await site.browser.get("/me"))


@pytest.mark.parametrize("bot", ["MultiTenant", "SingleTenant"])
async def test_a_person_of_another_tenant_is_refused(
    microsoft_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
    bot: str,
) -> None:
    """A MultiTenant bot serves only tenants where it is installed; a SingleTenant bot only its own."""
    settings = microsoft_settings(microsoft_app_type=bot, microsoft_app_tenant_id=TENANT)
    async with site_with(settings, engine, bot_framework, entra) as site:
        page = await site.sign_in("aad-eve", tenant=OTHER_TENANT, **{"Accept-Language": "fr"})
        assert page.status_code == 403
        assert "Ce Relais ne sert pas l'espace de travail Microsoft que vous avez choisi" in shown(page)
        await site.nothing_stored()


@pytest.mark.parametrize("cookie", [None, "another-state"])
async def test_a_callback_without_this_browsers_state_is_refused(site: Site, cookie: str | None) -> None:
    authorize = await site.to_microsoft()
    site.entra.sign_in_as("aad-bob", tenant=TENANT)
    callback = await site.consent(authorize)
    if cookie is None:
        site.browser.jar.clear()
    else:
        site.browser.jar[("relais_signin", "/login/")] = cookie
    page = await site.browser.get(callback)
    assert page.status_code == 400
    assert "was not started in this browser" in shown(page)
    assert site.entra.token_requests == []
    await site.nothing_stored()


async def test_a_code_obtained_for_another_sign_in_is_refused_by_pkce(site: Site) -> None:
    """Code injection: Mallory's code in Alice's callback (her state) is redeemed with her sign-in's
    verifier, which is not the one his code's challenge was made from: Entra refuses it."""
    alice = await site.to_microsoft()
    mallory = Browser(site.browser.client)
    site.entra.sign_in_as("aad-mallory", tenant=TENANT)
    mallorys = await site.consent(await mallory.get("/login", params={"next": "/me"}))
    code = parse_qs(urlsplit(mallorys).query)["code"][0]
    state = parse_qs(urlsplit(alice.headers["location"]).query)["state"][0]
    page = await site.browser.get("/login/microsoft/callback", params={"state": state, "code": code})
    assert page.status_code == 400  # the provider refusing: no server error of Relais's
    assert "Microsoft answered with an error" in shown(page)
    [exchange] = site.entra.token_requests
    assert exchange["code"] == code  # redeemed, and refused: no ID token was issued for it
    await site.nothing_stored()


async def test_an_id_token_without_this_sign_ins_nonce_is_refused(site: Site) -> None:
    """The ID token must carry the nonce this sign-in sent (here the one stored was changed after)."""
    authorize = await site.to_microsoft()
    site.entra.sign_in_as("aad-bob", tenant=TENANT)
    callback = await site.consent(authorize)
    async with site.sessions() as session:
        await session.execute(update(SignInAttempt).values(nonce="another-sign-in-s-nonce"))
        await session.commit()
    page = await site.browser.get(callback)
    assert page.status_code == 400  # the provider refusing: no server error of Relais's
    assert len(site.entra.token_requests) == 1
    await site.nothing_stored()


async def test_an_id_token_signed_by_an_unpublished_key_is_refused(site: Site) -> None:
    """Entra's ID token is checked against the keys the tenant's metadata names, not taken as given."""
    site.entra.sign_with = new_key()  # under the current key's id, but not the key published
    page = await site.sign_in()
    assert page.status_code == 400  # the provider refusing: no server error of Relais's
    await site.nothing_stored()


async def test_a_wrong_client_secret_is_refused(
    microsoft_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
) -> None:
    settings = microsoft_settings(microsoft_app_password="not-the-app-registration-s-secret")
    async with site_with(settings, engine, bot_framework, entra) as site:
        page = await site.sign_in()
        assert page.status_code == 400  # the provider refusing: no server error of Relais's
        assert "Microsoft answered with an error" in shown(page)
        assert site.entra.token_requests[0]["client_secret"] == "not-the-app-registration-s-secret"
        await site.nothing_stored()


async def test_declining_on_microsoft_is_a_clear_page(site: Site) -> None:
    authorize = await site.to_microsoft()
    site.entra.sign_in_as("aad-bob", tenant=TENANT, consents=False)
    page = await site.browser.get(await site.consent(authorize), headers={"Accept-Language": "fr"})
    assert page.status_code == 400
    assert "Vous n'avez pas autorisé Relais à savoir qui vous êtes" in shown(page)
    assert site.entra.token_requests == []
    await site.nothing_stored()


async def test_a_user_assigned_managed_identity_bot_offers_no_microsoft_sign_in(
    microsoft_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    entra: FakeEntra,
) -> None:
    """Such a bot has no client secret to redeem a code with."""
    settings = microsoft_settings(
        microsoft_app_type="UserAssignedMSI", microsoft_app_tenant_id=TENANT, microsoft_app_password=None
    )
    async with site_with(settings, engine, bot_framework, entra) as site:
        assert (await site.browser.get("/login")).status_code == 404
        assert (await site.browser.get("/login/microsoft")).status_code == 404


async def test_with_slack_and_teams_the_login_page_offers_both(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, entra: FakeEntra
) -> None:
    setup_workspace(fake_slack)
    settings = make_settings(
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_oidc_authorize_url=fake_slack.authorize_url,
        microsoft_app_id=APP_ID,
        microsoft_app_password=APP_PASSWORD,
        microsoft_login_url=entra.login_url,
    )
    adapters = [SlackPlatform(), TeamsPlatform(tokens=FixedTokens())]
    async with relais_app(settings, engine, FrozenClock(START), fake_slack, adapters=adapters) as driver:
        browser = Browser(driver.client)
        choice = await browser.get("/login", params={"next": "/me"})
        assert choice.status_code == 200
        page = shown(choice)
        assert '<a href="/login/slack?next=%2Fme">Sign in with Slack</a>' in page
        assert '<a href="/login/microsoft?next=%2Fme">Sign in with Microsoft</a>' in page
        to_microsoft = await browser.get("/login/microsoft", params={"next": "/me"})
        assert to_microsoft.status_code == 302
        assert to_microsoft.headers["location"].startswith(entra.login_url + "/organizations/oauth2/v2.0/")


async def test_no_secret_of_the_sign_in_reaches_the_logs(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    authorize = await site.to_microsoft()
    site.entra.sign_in_as("aad-bob", tenant=TENANT)
    callback = await site.consent(authorize)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    state = site.browser.cookie("relais_signin")
    async with site.sessions() as session:
        verifier = (await session.scalars(select(SignInAttempt.code_verifier))).one()
    assert (await site.browser.get(callback)).status_code == 303
    # What the app and its libraries logged. Left out: the test's own HTTP client, httpx, which logs whole
    # URLs and cookies (the app's token request is a POST whose form it does not log), and aiosqlite,
    # whose DEBUG lines `relais serve` caps (tests/handlers/slack/test_signin_logs.py).
    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore", "aiosqlite"))
    )
    assert "GET /login/microsoft/callback 303" in logged
    for secret in (code, state, verifier, site.browser.cookie("relais_session"), APP_PASSWORD):
        assert secret
        assert secret not in logged
