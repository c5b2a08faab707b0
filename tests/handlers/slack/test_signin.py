"""End to end: signing in to Relais's web pages with Slack (OpenID Connect against the fake Slack),
the session it opens, `/me`, signing out, and every refusal (state, provider error, workspace, open
redirect, CSRF, expiry), through HTTP into the running app."""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db, signin
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from handlers.slack.platform import SlackPlatform
from models import (
    Click,
    Member,
    Network,
    Post,
    Share,
    ShareStatus,
    SignInAttempt,
    SocialAccount,
    TrackedLink,
    WebSession,
)
from tests.handlers.slack.driver import START, SettingsFactory, relais_app, setup_workspace

PUBLIC = "https://relais.example.test"
CALLBACK = f"{PUBLIC}/login/slack/callback"


@dataclass
class Browser:
    """A browser as far as cookies go: it keeps what the app sets (by name and path, honouring
    deletions) and sends back those whose path fits the request's. The app is reached over plain HTTP
    in tests, so Secure cookies are sent as a browser on https would."""

    client: httpx.AsyncClient
    jar: dict[tuple[str, str], str] = field(default_factory=dict)
    set_cookies: list[SimpleCookie] = field(default_factory=list)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        path = urlsplit(url).path or "/"
        cookies = "; ".join(
            f"{name}={value}" for (name, where), value in self.jar.items() if path.startswith(where)
        )
        headers = {"Cookie": cookies} if cookies else {}
        headers.update(kwargs.pop("headers", {}))
        response = await self.client.request(method, url, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            self.set_cookies.append(cookie)
            for name, morsel in cookie.items():
                key = (name, morsel["path"] or "/")
                if morsel["max-age"] == "0" or not morsel.value:
                    self.jar.pop(key, None)
                else:
                    self.jar[key] = morsel.value
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    def cookie(self, name: str) -> str | None:
        return next((value for (found, _), value in self.jar.items() if found == name), None)

    def last_set(self, name: str) -> Any:
        return next(cookie[name] for cookie in reversed(self.set_cookies) if name in cookie)


@dataclass
class Site:
    browser: Browser
    fake: FakeSlack
    clock: FrozenClock
    sessions: async_sessionmaker[AsyncSession]

    async def to_slack(self, next_path: str | None = "/me") -> httpx.Response:
        """`GET /login`: the app's redirect to Slack's authorize page."""
        params = {"next": next_path} if next_path is not None else {}
        response = await self.browser.get("/login", params=params)
        assert response.status_code == 302, response.text
        return response

    async def consent(self, authorize: httpx.Response) -> str:
        """Open the authorize page (as whoever `fake.sign_in_as` named); the callback's path and query."""
        async with httpx.AsyncClient() as slack_tab:
            answer = await slack_tab.get(authorize.headers["location"])
        assert answer.status_code == 302, answer.text
        back = urlsplit(answer.headers["location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
        return f"{back.path}?{back.query}"

    async def sign_in(self, user: str, next_path: str | None = "/me") -> httpx.Response:
        self.fake.sign_in_as(user)
        return await self.browser.get(await self.consent(await self.to_slack(next_path)))

    async def count(self, model: Any) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge, computed here independently of the app."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def shown(response: httpx.Response) -> str:
    """The page's text as a person reads it (entities such as &#x27; decoded)."""
    return html.unescape(response.text)


def _settings(make_settings: SettingsFactory, fake: FakeSlack, **overrides: Any) -> Any:
    values = {
        "slack_client_id": fake.client_id,
        "slack_client_secret": fake.client_secret,
        "slack_oidc_authorize_url": fake.authorize_url,
        "public_url": PUBLIC,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def site(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> AsyncIterator[Site]:
    setup_workspace(fake_slack)
    async with relais_app(_settings(make_settings, fake_slack), engine, clock, fake_slack) as driver:
        yield Site(Browser(driver.client), fake_slack, clock, db.session_factory(engine))


async def test_sign_in_with_slack_opens_a_session_and_me_names_the_member(site: Site) -> None:
    authorize = await site.to_slack("/me")
    target = urlsplit(authorize.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == site.fake.authorize_url
    query = {name: values[0] for name, values in parse_qs(target.query).items()}
    assert query["response_type"] == "code"
    assert query["scope"] == "openid profile"
    assert query["client_id"] == site.fake.client_id
    assert query["redirect_uri"] == CALLBACK
    assert query["state"] == site.browser.cookie("relais_signin")
    assert len(query["nonce"]) >= 32
    async with site.sessions() as session:
        [attempt] = (await session.scalars(select(SignInAttempt))).all()
    # PKCE: only the S256 challenge of the verifier kept server side goes out (in no cookie).
    assert query["code_challenge_method"] == "S256"
    assert 43 <= len(attempt.code_verifier) <= 128
    assert query["code_challenge"] == s256(attempt.code_verifier)
    assert attempt.code_verifier not in authorize.headers["location"]
    assert attempt.code_verifier not in str(site.browser.set_cookies)
    state_cookie = site.browser.last_set("relais_signin")
    assert (state_cookie["path"], state_cookie["httponly"], state_cookie["secure"]) == ("/login/", True, True)
    assert state_cookie["samesite"] == "Lax"
    assert 0 < int(state_cookie["max-age"]) <= 600

    site.fake.sign_in_as("UEMP1")
    landed = await site.browser.get(await site.consent(authorize))
    assert landed.status_code == 303
    assert landed.headers["location"] == "/me"
    token = site.browser.cookie("relais_session")
    assert token is not None
    assert site.browser.cookie("relais_signin") is None  # used up
    cookie = site.browser.last_set("relais_session")
    assert (cookie["path"], cookie["httponly"], cookie["secure"], cookie["samesite"]) == (
        "/",
        True,
        True,
        "Lax",
    )
    assert int(cookie["max-age"]) == 12 * 3600

    # Slack was asked with the client's credentials, as slack_sdk sends them (HTTP Basic).
    [exchange] = site.fake.calls_to("openid.connect.token")
    assert exchange.headers["Authorization"].startswith("Basic ")
    assert exchange.params["redirect_uri"] == CALLBACK
    assert exchange.params["code_verifier"] == attempt.code_verifier
    assert len(site.fake.calls_to("openid.connect.userInfo")) == 1

    async with site.sessions() as session:
        [row] = (await session.scalars(select(WebSession))).all()
        member = await session.get_one(Member, row.member_id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # the token itself is not stored
    assert (row.created_at, row.last_seen, row.expires_at) == (START, START, START + timedelta(hours=12))
    # Her profile is the Slack directory's, asked at sign-in as for a chat command (users.info: the
    # display name, which the fake Slack sets to the handle).
    assert (member.external_id, member.display_name, member.locale) == ("UEMP1", "uemp1", "fr-FR")

    page = await site.browser.get("/me")
    assert page.status_code == 200
    assert "Connecté en tant que uemp1." in shown(page)  # her Slack locale is French
    assert f'name="csrf_token" value="{row.csrf_token}"' in page.text
    assert "Vous n'avez connecté ni LinkedIn ni X à Relais." in shown(page)


async def test_me_lists_the_members_connections(site: Site) -> None:
    await site.sign_in("UEMP2")
    async with site.sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        when = START - timedelta(days=30)
        session.add(
            SocialAccount(
                workspace_id=member.workspace_id,
                member_id=member.id,
                network=Network.LINKEDIN,
                external_person_id="li-bob",
                access_token_encrypted="not-read-here",
                created_at=when,
                updated_at=when,
            )
        )
        await session.commit()
    page = await site.browser.get("/me")
    assert page.status_code == 200
    assert "Signed in as uemp2." in shown(page)
    assert "<td>LinkedIn</td><td>2026-10-26</td>" in shown(page)
    assert "<td>X</td>" not in page.text


async def test_me_shows_the_members_shares_clicks_points_and_rank(site: Site) -> None:
    """The figures of the `me` command: a share posted through the API (10 points) this week, one by
    personal link (3) ten days ago, 4 counted clicks (and one not counted); Carla has 20 points."""
    await site.sign_in("UEMP2")
    async with site.sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        carla = Member(workspace_id=bob.workspace_id, external_id="UEMP3", created_at=START, updated_at=START)
        post = Post(
            workspace_id=bob.workspace_id, url="https://acme.example/news", created_at=START, updated_at=START
        )
        session.add_all([carla, post])
        await session.flush()

        def share(member: Member, network: Network, status: ShareStatus, days: int) -> Share:
            at = START - timedelta(days=days)
            return Share(
                workspace_id=bob.workspace_id,
                member_id=member.id,
                post_id=post.id,
                network=network,
                status=status,
                created_at=at,
                updated_at=at,
            )

        link = TrackedLink(
            workspace_id=bob.workspace_id, code="bobli", post_id=post.id, member_id=bob.id,
            network=Network.LINKEDIN, created_at=START,
        )  # fmt: skip
        session.add_all(
            [
                share(bob, Network.LINKEDIN, ShareStatus.POSTED, 2),
                share(bob, Network.X, ShareStatus.INTENT, 10),
                share(carla, Network.LINKEDIN, ShareStatus.POSTED, 1),
                share(carla, Network.X, ShareStatus.POSTED, 1),
                link,
            ]
        )
        await session.flush()
        session.add_all(
            Click(
                workspace_id=bob.workspace_id, link_id=link.id, at=START - timedelta(hours=n), counted=n != 0
            )
            for n in range(5)
        )
        await session.commit()
    page = shown(await site.browser.get("/me"))
    figures = {
        "Shares in the last 7 days": "1",
        "Shares in all": "2",
        "Clicks your links brought": "4",
        "Your points": "17",
        "Rank": "2 of 2 participants",
    }
    for label, value in figures.items():
        assert f"<tr><th>{label}</th><td>{value}</td></tr>" in page


async def test_disconnect_from_me_forgets_the_connection(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    setup_workspace(fake_slack)
    settings = _settings(make_settings, fake_slack, encryption_key=Fernet.generate_key().decode())
    async with relais_app(settings, engine, clock, fake_slack) as driver:
        site = Site(Browser(driver.client), fake_slack, clock, db.session_factory(engine))
        await site.sign_in("UEMP2")
        async with site.sessions() as session:
            bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
            csrf = (await session.scalars(select(WebSession.csrf_token))).one()
            session.add(
                SocialAccount(
                    workspace_id=bob.workspace_id,
                    member_id=bob.id,
                    network=Network.LINKEDIN,
                    external_person_id="li-bob",
                    access_token_encrypted=settings.fernet.encrypt(b"li-token").decode(),
                    created_at=START,
                    updated_at=START,
                )
            )
            await session.commit()
        page = shown(await site.browser.get("/me"))
        assert (
            '<input type="hidden" name="network" value="linkedin">'
            f'<input type="hidden" name="csrf_token" value="{csrf}">'
            '<button type="submit">Disconnect LinkedIn</button>'
        ) in page

        for form in ({"network": "linkedin"}, {"network": "linkedin", "csrf_token": "forged"}):
            refused = await site.browser.post("/me/disconnect", data=form)
            assert refused.status_code == 403
            assert await site.count(SocialAccount) == 1
        unknown = await site.browser.post("/me/disconnect", data={"network": "myspace", "csrf_token": csrf})
        assert unknown.status_code == 400
        assert "There is no such network to disconnect." in shown(unknown)

        done = await site.browser.post("/me/disconnect", data={"network": "linkedin", "csrf_token": csrf})
        assert done.status_code == 200
        assert "LinkedIn is disconnected: Relais forgot its access." in shown(done)
        assert "You have not connected LinkedIn or X to Relais." in shown(done)
        assert await site.count(SocialAccount) == 0

        await site.browser.post("/logout", data={"csrf_token": csrf})
        signed_out = await site.browser.post("/me/disconnect", data={"network": "x", "csrf_token": csrf})
        assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/login?next=%2Fme")


async def test_me_without_a_session_sends_the_browser_to_sign_in(site: Site) -> None:
    page = await site.browser.get("/me")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fme"
    forged = await site.browser.get("/me", headers={"Cookie": "relais_session=forged"})
    assert forged.status_code == 303


@pytest.mark.parametrize("cookie", [None, "another-state"])
async def test_a_callback_without_this_browsers_state_is_refused_and_stores_nothing(
    site: Site, cookie: str | None
) -> None:
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1")
    callback = await site.consent(authorize)
    if cookie is None:
        site.browser.jar.clear()
    else:
        site.browser.jar[("relais_signin", "/login/")] = cookie
    page = await site.browser.get(callback, headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert page.status_code == 400
    assert "n'a pas été commencée dans ce navigateur" in shown(page)
    assert site.browser.cookie("relais_session") is None
    assert site.fake.calls_to("openid.connect.token") == []
    assert (await site.count(WebSession), await site.count(Member)) == (0, 0)


async def test_a_sign_in_is_used_once(site: Site) -> None:
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1")
    callback = await site.consent(authorize)
    state = site.browser.cookie("relais_signin")
    assert (await site.browser.get(callback)).status_code == 303
    site.browser.jar[("relais_signin", "/login/")] = state or ""  # the same browser, replaying
    site.browser.jar.pop(("relais_session", "/"))
    replay = await site.browser.get(callback)
    assert replay.status_code == 400
    assert "was already used" in shown(replay)
    assert site.browser.cookie("relais_session") is None
    assert await site.count(WebSession) == 1
    assert len(site.fake.calls_to("openid.connect.token")) == 1


async def test_an_expired_sign_in_is_refused(site: Site) -> None:
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1")
    callback = await site.consent(authorize)
    site.clock.advance(timedelta(minutes=10))
    page = await site.browser.get(callback)
    assert page.status_code == 400
    assert await site.count(WebSession) == 0


async def test_a_code_obtained_for_another_sign_in_is_refused(site: Site) -> None:
    """Code injection: Mallory puts the code of his own sign-in into Alice's callback (her browser's
    state). The code was issued for his sign-in's PKCE challenge, and Relais redeems it with her
    sign-in's verifier: Slack refuses it (and its ID token would carry his nonce, not hers)."""
    alice = await site.to_slack()
    mallory = Browser(site.browser.client)
    site.fake.sign_in_as("UEMP3")
    mallorys_callback = await site.consent(await mallory.get("/login", params={"next": "/me"}))
    code = parse_qs(urlsplit(mallorys_callback).query)["code"][0]
    state = parse_qs(urlsplit(alice.headers["location"]).query)["state"][0]
    page = await site.browser.get("/login/slack/callback", params={"state": state, "code": code})
    assert site.fake._oidc_tokens == {}  # refused by the verifier: Slack issued no token at all
    assert page.status_code == 400  # the provider refusing: no server error of Relais's
    assert "Slack answered with an error" in shown(page)
    assert site.browser.cookie("relais_session") is None
    assert (await site.count(WebSession), await site.count(Member)) == (0, 0)


@pytest.mark.parametrize(
    "claims", [{"aud": "another-app"}, {"iss": "https://evil.example"}], ids=["audience", "issuer"]
)
async def test_an_id_token_for_another_app_or_from_another_issuer_is_refused(
    site: Site, claims: dict[str, str]
) -> None:
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1")
    site.fake.next_id_token_claims = claims
    page = await site.browser.get(await site.consent(authorize))
    assert page.status_code == 400
    assert "Slack answered with an error" in shown(page)
    assert site.browser.cookie("relais_session") is None
    assert (await site.count(WebSession), await site.count(Member)) == (0, 0)


async def test_declining_on_slack_is_a_clear_page(site: Site) -> None:
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1", consents=False)
    callback = await site.consent(authorize)
    assert "error=access_denied" in callback
    page = await site.browser.get(callback)
    assert page.status_code == 400
    assert "You did not let Relais know who you are" in shown(page)
    assert '<a href="/login">Sign in again</a>' in page.text
    assert site.fake.calls_to("openid.connect.token") == []
    assert (await site.count(WebSession), await site.count(Member)) == (0, 0)


async def test_someone_of_another_workspace_is_refused(site: Site) -> None:
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1", team_id="T0OTHER")
    page = await site.browser.get(await site.consent(authorize), headers={"Accept-Language": "fr"})
    assert page.status_code == 403
    assert "Ce Relais ne sert pas l'espace de travail Slack que vous avez choisi" in shown(page)
    assert site.browser.cookie("relais_session") is None
    assert (await site.count(WebSession), await site.count(Member)) == (0, 0)


async def test_slack_refusing_the_code_is_a_clear_page(site: Site) -> None:
    site.fake.fail_next("openid.connect.token", status=200, error="invalid_code")
    page = await site.sign_in("UEMP1")
    assert page.status_code == 400  # the provider refusing: no server error of Relais's
    assert "Slack answered with an error" in shown(page)
    assert (await site.count(WebSession), await site.count(Member)) == (0, 0)


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\\/evil.example", "javascript:alert(1)",
     "\t//evil.example", "/%0a", "http:/evil.example", "", None, "/" + "a" * 600],
)  # fmt: skip
async def test_only_a_local_path_is_followed_after_signing_in(site: Site, next_path: str | None) -> None:
    landed = await site.sign_in("UEMP1", next_path)
    assert landed.status_code == 303
    expected = "/%0a" if next_path == "/%0a" else "/me"  # an escaped newline is a path like any other
    assert landed.headers["location"] == expected
    again = await site.browser.get("/login", params={"next": next_path} if next_path is not None else {})
    assert (again.status_code, again.headers["location"]) == (303, expected)  # signed in: straight there


async def test_a_local_next_path_is_kept(site: Site) -> None:
    landed = await site.sign_in("UADMIN", "/admin?weeks=12&network=x")
    assert landed.headers["location"] == "/admin?weeks=12&network=x"


async def test_signing_out_needs_the_sessions_csrf_token(site: Site) -> None:
    await site.sign_in("UEMP2")
    async with site.sessions() as session:
        csrf = (await session.scalars(select(WebSession.csrf_token))).one()
    for form in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf[:-1]}):
        refused = await site.browser.post("/logout", data=form)
        assert refused.status_code == 403
        assert "did not come from Relais" in shown(refused)
        assert (await site.browser.get("/me")).status_code == 200  # still signed in
    assert await site.count(WebSession) == 1

    out = await site.browser.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 200
    assert "You are signed out of Relais on this browser." in shown(out)
    assert site.browser.last_set("relais_session")["max-age"] == "0"
    assert await site.count(WebSession) == 0
    assert (await site.browser.get("/me")).status_code == 303


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("multipart/form-data; boundary=x", b"garbage"), ("multipart/form-data", b"--x\r\n\r\nzz"),
     ("application/x-www-form-urlencoded; charset=no-such-charset", b"csrf_token=x"),
     ("application/x-www-form-urlencoded", b"csrf_token=%ff%fe"), ("application/json", b'{"csrf_token": 1}')],
)  # fmt: skip
async def test_a_malformed_form_is_refused_without_a_server_error(
    site: Site, content_type: str, body: bytes
) -> None:
    await site.sign_in("UEMP2")
    for path in ("/logout", "/me/disconnect"):
        refused = await site.browser.post(path, content=body, headers={"Content-Type": content_type})
        assert refused.status_code == 403
    assert (await site.browser.get("/me")).status_code == 200
    assert await site.count(WebSession) == 1


async def test_a_stolen_cookie_is_useless_after_signing_out(site: Site) -> None:
    await site.sign_in("UEMP2")
    token = site.browser.cookie("relais_session")
    async with site.sessions() as session:
        csrf = (await session.scalars(select(WebSession.csrf_token))).one()
    await site.browser.post("/logout", data={"csrf_token": csrf})
    stolen = await site.browser.client.get("/me", headers={"Cookie": f"relais_session={token}"})
    assert stolen.status_code == 303


async def test_a_session_ends_after_two_idle_hours(site: Site) -> None:
    await site.sign_in("UEMP2")
    site.clock.advance(timedelta(hours=1, minutes=59))
    assert (await site.browser.get("/me")).status_code == 200  # and last_seen moves on
    site.clock.advance(timedelta(hours=1, minutes=59))
    assert (await site.browser.get("/me")).status_code == 200
    site.clock.advance(timedelta(hours=2))
    page = await site.browser.get("/me")
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fme")
    assert await site.count(WebSession) == 0


async def test_a_session_ends_after_twelve_hours_however_active(site: Site) -> None:
    await site.sign_in("UEMP2")
    for _ in range(11):
        site.clock.advance(timedelta(hours=1))
        assert (await site.browser.get("/me")).status_code == 200
    site.clock.advance(timedelta(minutes=59))
    assert (await site.browser.get("/me")).status_code == 200
    site.clock.advance(timedelta(minutes=1))
    assert (await site.browser.get("/me")).status_code == 303


async def test_signing_in_again_replaces_the_browsers_session(site: Site) -> None:
    """A new token at every sign-in (no session fixation), and the browser's previous session ends."""
    await site.sign_in("UEMP2")
    first = site.browser.cookie("relais_session")
    authorize = await site.browser.get("/login/slack", params={"next": "/me"})  # straight to Slack
    assert authorize.status_code == 302
    site.fake.sign_in_as("UEMP3")
    landed = await site.browser.get(await site.consent(authorize))
    assert landed.status_code == 303
    assert site.browser.cookie("relais_session") not in (None, first)
    async with site.sessions() as session:
        [row] = (await session.scalars(select(WebSession))).all()
        member = await session.get_one(Member, row.member_id)
    assert member.external_id == "UEMP3"
    assert "Signed in as uemp3." in shown(await site.browser.get("/me"))


async def test_no_secret_of_the_sign_in_reaches_the_logs(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    authorize = await site.to_slack()
    site.fake.sign_in_as("UEMP1")
    callback = await site.consent(authorize)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    state = site.browser.cookie("relais_signin")
    await site.browser.get(callback)
    session_token = site.browser.cookie("relais_session")
    [access_token] = site.fake._oidc_tokens
    # What the app and its libraries logged (the test's own HTTP client, httpx, logs whole URLs).
    logged = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))
    )
    assert "GET /login/slack/callback 303" in logged  # the request was logged, without its query
    for secret in (code, state, session_token, access_token, site.fake.client_secret):
        assert secret
        assert secret not in logged


async def test_cookies_are_not_secure_on_a_plain_http_public_url(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    setup_workspace(fake_slack)
    settings = _settings(make_settings, fake_slack, public_url="http://localhost:3000")
    async with relais_app(settings, engine, clock, fake_slack) as driver:
        browser = Browser(driver.client)
        authorize = await browser.get("/login")
        assert browser.last_set("relais_signin")["secure"] == ""
        assert browser.last_set("relais_signin")["httponly"] is True
        query = parse_qs(urlsplit(authorize.headers["location"]).query)
        assert query["redirect_uri"] == ["http://localhost:3000/login/slack/callback"]


async def test_without_a_client_id_signing_in_is_not_offered(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    async with relais_app(make_settings(), engine, clock, fake_slack) as driver:
        page = await driver.client.get("/login", headers={"Accept-Language": "de-DE, fr;q=0.8"})
        assert page.status_code == 404
        assert "La connexion n'est pas configurée sur ce Relais." in shown(page)
        assert (await driver.client.get("/login/slack/callback?state=x&code=y")).status_code == 404
    async with db.session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(SignInAttempt)) == 0


class _OtherChat:
    """A second chat platform that only offers sign-in (the choice page appears with two)."""

    name = "otherchat"
    command = ""

    def configured(self, settings: Any) -> bool:
        return False

    def install(self, app: Any, core: Any) -> None:
        return None

    def sign_in(self, settings: Any) -> Any:
        return self

    label = "Other Chat"

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        return f"https://other.example/authorize?state={state}&redirect_uri={redirect_uri}"

    async def identify(self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Any:
        raise AssertionError("not reached")


async def test_with_two_ways_to_sign_in_the_browser_chooses(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    setup_workspace(fake_slack)
    adapters = [SlackPlatform(), _OtherChat()]
    async with relais_app(
        _settings(make_settings, fake_slack), engine, clock, fake_slack, adapters=adapters
    ) as driver:
        browser = Browser(driver.client)
        choice = await browser.get(
            "/login", params={"next": "/admin?weeks=4"}, headers={"Accept-Language": "fr"}
        )
        assert choice.status_code == 200
        page = shown(choice)
        assert '<a href="/login/slack?next=%2Fadmin%3Fweeks%3D4">Se connecter avec Slack</a>' in page
        assert "Se connecter avec Other Chat" in page
        assert await Site(browser, fake_slack, clock, db.session_factory(engine)).count(SignInAttempt) == 0
        other = await browser.get("/login/otherchat", params={"next": "/me"})
        assert other.status_code == 302
        assert other.headers["location"].startswith("https://other.example/authorize?state=")
        assert (
            "redirect_uri=https://relais.example.test/login/otherchat/callback" in other.headers["location"]
        )
        assert (await browser.get("/login/nosuch")).status_code == 404


def test_the_code_challenge_is_rfc_7636s_s256() -> None:
    """RFC 7636 Appendix B: the example verifier and its S256 challenge; a new verifier is 43 characters
    of the RFC's unreserved set, and never the same twice."""
    assert signin.code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifiers = {signin.new_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier) for verifier in verifiers)
