"""End to end: connecting LinkedIn and X from Slack (OAuth against local fakes), one-click API shares,
Undo, and every failure path (401, 429, 5xx, timeout, duplicate, too long, expiry, refresh)."""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services import connections, scores
from bot.services.posting import Poster
from handlers.slack.notifier import SlackNotifier
from handlers.social import build_social_clients, new_http_client
from models import (
    Member,
    Network,
    OAuthAttempt,
    OutboxMessage,
    OutboxState,
    PointsRefresh,
    Post,
    Share,
    ShareStatus,
    SocialAccount,
    TrackedLink,
)
from scheduler import jobs
from tests.conftest import BOT_TOKEN, web_pages
from tests.fakes.social import FakeLinkedIn, FakeX
from tests.handlers.slack.driver import (
    ARTICLE,
    SettingsFactory,
    SlackDriver,
    eventually,
    relais_app,
    setup_workspace,
)

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]
KEY = Fernet.generate_key().decode()
PUBLIC = "https://relais.example.test"


@dataclass
class World:
    slack: SlackDriver
    linkedin: FakeLinkedIn
    x: FakeX
    clock: FrozenClock
    sessions: Sessions
    settings: Any
    article: str
    # Each member's browser signed in to Relais (its session cookie), and who each connect link is for.
    signed_in: dict[str, str] = field(default_factory=dict)
    link_owner: dict[str, str] = field(default_factory=dict)


def _social_settings(
    make_settings: SettingsFactory, linkedin: FakeLinkedIn, x: FakeX, fake_slack: FakeSlack, **extra: Any
) -> Any:
    """Both networks, and Sign in with Slack: a connect link is opened in a browser signed in to Relais."""
    return make_settings(
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_oidc_authorize_url=fake_slack.authorize_url,
        encryption_key=KEY,
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
        x_client_id=x.client_id,
        x_client_secret=x.client_secret,
        x_auth_url=x.auth_url,
        x_api_url=x.api_url,
        **extra,
    )


# The smallest valid PNG (1×1): the article's og:image, which LinkedIn gets as the card's thumbnail.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
async def article(linkedin: FakeLinkedIn) -> AsyncIterator[str]:
    """The article page on 127.0.0.2 (the fetcher's allowed address), with its og:image as a real PNG.
    Under /private/, a page whose og:image is on a loopback address the fetcher must not reach."""

    async def page(request: web.Request) -> web.Response:
        if request.path == "/images/cover.png":
            return web.Response(body=PNG, content_type="image/png")
        if request.path.startswith("/private/"):
            inside = f"{linkedin.base_url}/internal/cover.png"
            return web.Response(text=ARTICLE.replace("/images/cover.png", inside), content_type="text/html")
        return web.Response(text=ARTICLE, content_type="text/html")

    async with web_pages(page) as base:
        yield base


@pytest.fixture
async def world(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    sessions: Sessions,
    linkedin: FakeLinkedIn,
    x: FakeX,
    article: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[World]:
    setup_workspace(fake_slack)
    settings = _social_settings(make_settings, linkedin, x, fake_slack)
    timeout = getattr(request, "param", 10.0)
    async with relais_app(settings, engine, clock, fake_slack, social_timeout=timeout) as driver:
        yield World(driver, linkedin, x, clock, sessions, settings, article)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        for element in (
            block.get("elements", []) if block["type"] == "actions" else [block.get("accessory") or {}]
        )
        if element.get("type") == "button"
    ]


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    found = [b for b in _buttons(message) if b["action_id"] == action_id]
    assert found, f"no {action_id} button in {message}"
    return found[0]


async def _publish(w: World, caption: str = "Big news from Acme") -> dict[str, Any]:
    """Queue the article into #news as the admin and return the channel message."""
    await w.slack.command("UADMIN", f"queue <{w.article}/launch> {caption} <#C0NEWS|news>")
    await eventually(lambda: _has_message(w.slack.fake, "C0NEWS"))
    return w.slack.fake.messages["C0NEWS"][-1]


async def _has_message(fake: FakeSlack, channel: str) -> bool:
    return bool(fake.messages.get(channel))


async def _dms(w: World, user: str, count: int = 1) -> list[dict[str, Any]]:
    channel = w.slack.fake.dm_channel_id(user)

    async def arrived() -> bool:
        return len(w.slack.fake.messages.get(channel, [])) >= count

    await eventually(arrived)
    return w.slack.fake.messages[channel]


async def _browse(
    w: World, url: str, cookie: str | None = None, *, user: str | None = None
) -> httpx.Response:
    """Open a Relais URL (PUBLIC_URL/...) in the test's 'browser' (the running app): `user`'s browser,
    signed in to Relais as them, when given."""
    assert url.startswith(PUBLIC), url
    parts = urlsplit(url)
    cookies = [cookie] if cookie else []
    if user is not None:
        cookies.append(await _signed_in(w, user))
    headers = {"Cookie": "; ".join(cookies)} if cookies else {}
    with _browser_logs_off():
        return await w.slack.client.get(
            parts.path + ("?" + parts.query if parts.query else ""), headers=headers
        )


@contextmanager
def _browser_logs_off() -> Iterator[None]:
    """The test's own HTTP clients (the member's browser) log what they receive (codes and states in
    redirects): that is the browser's log, not Relais's, so it is kept out of the captured logs."""
    quiet = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


async def _consent(provider_url: str) -> httpx.Response:
    """The member's browser at the provider's consent page (which redirects back at once)."""
    with _browser_logs_off():
        async with httpx.AsyncClient() as browser:
            return await browser.get(provider_url)


async def _signed_in(w: World, user: str) -> str:
    """`user`'s browser signs in to Relais with Slack (once), through the real routes and the fake
    Slack's OpenID Connect: the session cookie it then sends."""
    if user not in w.signed_in:
        w.slack.fake.sign_in_as(user)
        with _browser_logs_off():
            to_slack = await w.slack.client.get("/login", params={"next": "/me"})
            assert to_slack.status_code == 302, to_slack.text
            state_cookie = to_slack.headers["Set-Cookie"].split(";", 1)[0]
            consent = await _consent(to_slack.headers["Location"])
            back = urlsplit(consent.headers["Location"])
            landed = await w.slack.client.get(f"{back.path}?{back.query}", headers={"Cookie": state_cookie})
        assert landed.status_code == 303, landed.text
        [session] = [
            header for header in landed.headers.get_list("Set-Cookie") if "relais_session=" in header
        ]
        w.signed_in[user] = session.split(";", 1)[0]
    return w.signed_in[user]


async def _connect_link(w: World, user: str, network: str) -> str:
    reply = await w.slack.command(user, f"connect {network}")
    link = str(_button(reply, "connect_open")["url"])
    w.link_owner[link] = user
    return link


async def _dance(w: World, link: str, *, network: str = "linkedin") -> httpx.Response:
    """The browser's part, in the browser of the member the link is for, signed in to Relais: start link →
    provider consent → callback, carrying the state cookie."""
    user = w.link_owner[link]
    start = await _browse(w, link, user=user)
    if start.status_code == 303 and start.headers["Location"].startswith("/login?"):
        del w.signed_in[user]  # the session ended (the clock moved on): the member signs in again
        start = await _browse(w, link, user=user)
    assert start.status_code == 302, start.text
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    consent = await _consent(start.headers["Location"])
    assert consent.status_code == 302
    return await _browse(w, consent.headers["Location"], cookie, user=user)


async def _connect(w: World, user: str, network: str) -> None:
    page = await _dance(w, await _connect_link(w, user, network), network=network)
    assert page.status_code == 200, page.text


async def _account(w: World, network: str) -> SocialAccount | None:
    async with w.sessions() as session:
        return await session.scalar(select(SocialAccount).where(SocialAccount.network == network))


async def _share(w: World) -> Share:
    async with w.sessions() as session:
        return (await session.scalars(select(Share))).one()


async def _click_share(w: World, user: str, network: str, message: dict[str, Any]) -> dict[str, Any]:
    clicked = await w.slack.click(user, f"share_{network}", "1", message_ts=message["ts"])
    assert clicked.status == 200
    return (await w.slack.responses(clicked.url_id))[0]


async def _clock_pass(w: World) -> None:
    """What `relais clock` does every minute for API shares, through a real Slack notifier."""
    http = new_http_client()
    try:
        poster = Poster(
            w.sessions,
            clients=build_social_clients(w.settings, http),
            cipher=w.settings.fernet,
            base_url=w.settings.base_url,
            now=w.clock.now,
        )
        notifier = SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=w.slack.fake.api_url))
        ctx = jobs.Context(w.sessions, {"slack": notifier}, w.clock.now, poster)
        for name in ("connection-warnings", "outbox"):
            await jobs.run_job(ctx, name)
    finally:
        await http.aclose()


# ---------------------------------------------------------------------------------------------------
# Connecting


async def test_connecting_linkedin_from_the_share_button_stores_encrypted_tokens(
    world: World, engine: AsyncEngine
) -> None:
    w = world
    message = await _publish(w)
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    # Not connected yet: the personal share link, and a Connect button.
    assert _button(answer, "open_share_linkedin")
    clicked = await w.slack.click("UEMP2", "connect_linkedin", "linkedin", ephemeral=True)
    link_message = (await w.slack.responses(clicked.url_id))[0]
    link = _button(link_message, "connect_open")["url"]
    assert link.startswith(f"{PUBLIC}/oauth/linkedin/start?t=")
    w.link_owner[link] = "UEMP2"

    page = await _dance(w, link)
    assert page.status_code == 200
    assert "Your LinkedIn account is connected" in page.text
    request = w.linkedin.authorization_requests[-1]
    assert request["scope"] == "openid profile w_member_social"
    assert request["redirect_uri"] == f"{PUBLIC}/oauth/linkedin/callback"

    account = await _account(w, "linkedin")
    assert account is not None
    assert account.external_person_id == "782bbtaQ"
    [token] = w.linkedin.tokens
    assert w.settings.fernet.decrypt(account.access_token_encrypted.encode()).decode() == token
    assert account.refresh_token_encrypted is None
    assert account.expires_at == w.clock.now() + timedelta(days=60)

    dm = (await _dms(w, "UEMP2"))[-1]
    assert "Your LinkedIn account is connected" in dm["text"]
    await _assert_no_plaintext(engine, [token])


async def test_connecting_x_uses_pkce_and_keeps_the_refresh_token_encrypted(
    world: World, engine: AsyncEngine
) -> None:
    w = world
    await _connect(w, "UEMP1", "x")
    request = w.x.authorization_requests[-1]
    assert request["code_challenge_method"] == "S256"
    assert len(request["code_challenge"]) == 43
    assert request["scope"] == "tweet.read tweet.write users.read offline.access"
    token_call = w.x.calls_to("token")[-1]
    assert token_call.form is not None
    assert len(token_call.form["code_verifier"]) >= 43
    account = await _account(w, "x")
    assert account is not None
    assert account.external_person_id == "1500000000000000001"
    [refresh] = w.x.refresh_tokens
    assert account.refresh_token_encrypted is not None
    assert w.settings.fernet.decrypt(account.refresh_token_encrypted.encode()).decode() == refresh
    dm = (await _dms(w, "UEMP1"))[-1]
    assert "Votre compte X est connecté" in dm["text"]
    await _assert_no_plaintext(engine, [*w.x.tokens, refresh, token_call.form["code_verifier"]])


async def _assert_no_plaintext(engine: AsyncEngine, secrets: list[str]) -> None:
    """No secret appears anywhere in the database: the SQLite files on disk, or every row on PostgreSQL."""
    assert secrets
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        assert path
        async with engine.connect() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(FULL)"))
        files = [Path(path + suffix) for suffix in ("", "-wal")]
        dump = b"".join(file.read_bytes() for file in files if file.exists())
        assert b"social_account" in dump  # the file really is the database
        for secret in secrets:
            assert secret.encode() not in dump
        return
    async with engine.connect() as connection:
        query = text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = (await connection.execute(query)).scalars().all()
        rows: list[str] = []
        for table in tables:  # names from the catalogue, not from input
            statement = text(f'SELECT t::text FROM "{table}" t')  # noqa: S608
            rows += (await connection.execute(statement)).scalars().all()
    dump_text = "\n".join(rows)
    assert "782bbtaQ" in dump_text or "1500000000000000001" in dump_text
    for secret in secrets:
        assert secret not in dump_text


async def test_a_deactivated_account_connects_no_account(world: World) -> None:
    """An account connected by someone the directory does not have as an active member (a deactivated
    account, a forged click) would let their share clicks post before any look-up: no connect link is
    given, no attempt kept."""
    world.slack.fake.add_user("UGONE", real_name="Gone", locale="fr-FR", deleted=True)
    for network in ("linkedin", "x"):
        reply = await world.slack.command("UGONE", f"connect {network}")
        assert "ne vous compte pas parmi ses membres actifs" in reply["text"], reply
        assert "/oauth/" not in json.dumps(reply)
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OAuthAttempt)) == 0


async def test_connect_links_are_single_use_expire_and_cannot_be_forged(world: World) -> None:
    w = world
    link = await _connect_link(w, "UEMP1", "linkedin")
    assert (await _browse(w, link, user="UEMP1")).status_code == 302
    again = await _browse(w, link, user="UEMP1")
    assert again.status_code == 400
    assert "Ce lien a déjà servi" in again.text  # in the member's language

    late = await _connect_link(w, "UEMP2", "linkedin")
    w.clock.advance(timedelta(minutes=11))
    expired = await _browse(w, late)
    assert expired.status_code == 400
    assert "This link has expired" in expired.text
    assert "Ask Relais for a new one in your chat: /relais connect linkedin." in expired.text

    forged = await _browse(w, late[:-6] + "AAAAAA")
    assert forged.status_code == 400
    assert "This link is not valid" in forged.text
    assert "/relais connect linkedin" in forged.text  # no member, but Slack is the platform served
    tampered = await _browse(w, f"{PUBLIC}/oauth/x/start?t=" + late.split("t=", 1)[1])
    assert tampered.status_code == 400
    assert "not valid" in tampered.text
    assert (await _browse(w, f"{PUBLIC}/oauth/myspace/start?t=x")).status_code == 404
    assert await _account(w, "linkedin") is None


async def test_callbacks_are_checked_state_browser_replay_and_denial(world: World) -> None:
    w = world
    link = await _connect_link(w, "UEMP2", "linkedin")
    start = await _browse(w, link, user="UEMP2")
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    assert "HttpOnly" in start.headers["Set-Cookie"]
    assert "SameSite=Lax" in start.headers["Set-Cookie"]
    consent = await _consent(start.headers["Location"])
    callback = consent.headers["Location"]

    # A browser that holds another connection's state is refused (a callback forced into it), and the
    # flow stays usable; a forged state is refused.
    other_flow = await _browse(w, await _connect_link(w, "UEMP2", "linkedin"), user="UEMP2")
    other_cookie = other_flow.headers["Set-Cookie"].split(";", 1)[0]
    forced = await _browse(w, callback, other_cookie, user="UEMP2")
    assert forced.status_code == 400
    assert "This browser did not start this connection" in forced.text
    forged_state = await _browse(w, callback.replace("state=", "state=x"), cookie, user="UEMP2")
    assert forged_state.status_code == 400
    assert w.linkedin.calls_to("access_token") == []
    # The refused callback spent its link (its code is someone's consent: never replayed elsewhere).
    spent = await _browse(w, callback, cookie, user="UEMP2")
    assert spent.status_code == 400
    assert "already used" in spent.text
    assert w.linkedin.calls_to("access_token") == []

    cookie, callback = await _flow(w, "UEMP2", "linkedin")
    done = await _browse(w, callback, cookie, user="UEMP2")
    assert done.status_code == 200
    replay = await _browse(w, callback, cookie, user="UEMP2")
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert len(w.linkedin.calls_to("access_token")) == 1

    # Denied consent: a clear page, nothing stored.
    w.x.deny_next()
    denied = await _dance(w, await _connect_link(w, "UEMP2", "x"), network="x")
    assert denied.status_code == 400
    assert "You did not give Relais access to X" in denied.text
    assert await _account(w, "x") is None


async def _flow(w: World, user: str, network: str) -> tuple[str, str]:
    """A new connect link opened by `user` and consented to: the state cookie and the callback."""
    start = await _browse(w, await _connect_link(w, user, network), user=user)
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    return cookie, (await _consent(start.headers["Location"])).headers["Location"]


async def test_a_callback_without_the_state_cookie_or_the_session_is_refused(world: World) -> None:
    """The state cookie is mandatory (a consent page forwarded to another browser comes back without
    it), and so is the member's session: nothing is stored, and the refusal spends the link (its code
    is the consent of whoever was at that browser); the member finishes with a new one."""
    w = world
    cookie, callback = await _flow(w, "UEMP2", "x")
    no_cookie = await _browse(w, callback, user="UEMP2")
    assert no_cookie.status_code == 400
    assert "This browser did not start this connection" in no_cookie.text
    assert "already used" in (await _browse(w, callback, cookie, user="UEMP2")).text
    cookie, callback = await _flow(w, "UEMP2", "x")
    no_session = await _browse(w, callback, cookie)
    assert no_session.status_code == 400
    assert "This browser is not signed in to Relais, so nothing was connected." in no_session.text
    assert w.x.calls_to("token") == []
    assert await _account(w, "x") is None
    cookie, callback = await _flow(w, "UEMP2", "x")
    done = await _browse(w, callback, cookie, user="UEMP2")
    assert done.status_code == 200
    assert await _account(w, "x") is not None


async def test_a_forwarded_start_link_is_refused_in_someone_elses_browser(world: World) -> None:
    """The attack: Mallory (UEMP3) forwards his personal link to Alice (UEMP1, French), who opens it in
    her browser, signed in to Relais as herself. Refused before LinkedIn is ever reached, in her language;
    the link is still unused, and nothing is stored on anyone."""
    w = world
    mallorys = await _connect_link(w, "UEMP3", "linkedin")
    refused = await _browse(w, mallorys, user="UEMP1")
    assert refused.status_code == 403
    assert "Ce lien a été fait pour quelqu'un d'autre : rien n'a été connecté." in html.unescape(refused.text)
    assert "/relais connect linkedin" in refused.text
    assert "relais_oauth_" not in refused.headers.get("Set-Cookie", "")
    assert w.linkedin.calls == []
    assert await _account(w, "linkedin") is None
    async with w.sessions() as session:
        attempt = (await session.scalars(select(OAuthAttempt))).one()
    assert (attempt.started_at, attempt.state) == (None, None)


async def test_a_start_link_in_a_browser_signed_in_as_nobody_signs_in_first_then_goes_on(
    world: World,
) -> None:
    w = world
    link = await _connect_link(w, "UEMP2", "linkedin")
    first = await _browse(w, link)
    assert first.status_code == 303
    path = link.removeprefix(PUBLIC)
    assert first.headers["Location"] == "/login?" + urlencode({"next": path})
    # Signing in (the real routes) brings the browser back to the link, which now goes on to LinkedIn.
    w.slack.fake.sign_in_as("UEMP2")
    with _browser_logs_off():
        to_slack = await w.slack.client.get(first.headers["Location"])
        state_cookie = to_slack.headers["Set-Cookie"].split(";", 1)[0]
        back = urlsplit((await _consent(to_slack.headers["Location"])).headers["Location"])
        landed = await w.slack.client.get(f"{back.path}?{back.query}", headers={"Cookie": state_cookie})
    assert (landed.status_code, landed.headers["Location"]) == (303, path)
    session = landed.headers["Set-Cookie"].split("relais_session=", 1)[1].split(";", 1)[0]
    w.signed_in["UEMP2"] = f"relais_session={session}"
    start = await _browse(w, PUBLIC + landed.headers["Location"], user="UEMP2")
    assert start.status_code == 302
    assert start.headers["Location"].startswith(w.linkedin.auth_url)


async def test_a_forwarded_consent_page_is_refused_at_the_callback(world: World) -> None:
    """The attack's second form: Mallory opens his link himself and forwards LinkedIn's consent page;
    Alice consents as herself in her browser (signed in to Relais as Alice). The callback comes to her
    browser, without the state cookie and signed in as someone else: refused, no code exchanged, nothing
    stored. Even with the cookie planted in her browser (cookie tossing), the member check refuses it."""
    w = world
    start = await _browse(w, await _connect_link(w, "UEMP3", "linkedin"), user="UEMP3")
    mallorys_cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    callback = (await _consent(start.headers["Location"])).headers["Location"]  # Alice consents
    in_alices_browser = await _browse(w, callback, user="UEMP1")
    # Told, in her own language, that the link was someone else's (not that her browser started anything).
    assert in_alices_browser.status_code == 403
    assert "Ce lien a été fait pour quelqu'un d'autre" in html.unescape(in_alices_browser.text)
    # Alice sends Mallory the address she landed on: her consent, replayed in his own browser, finds the
    # link spent by the refusal.
    replayed = await _browse(w, callback, mallorys_cookie, user="UEMP3")
    assert replayed.status_code == 400
    assert "already used" in replayed.text
    # Cookie tossing, on a new link: Mallory's state cookie planted in Alice's browser.
    mallorys_cookie, callback = await _flow(w, "UEMP3", "linkedin")
    planted = await _browse(w, callback, mallorys_cookie, user="UEMP1")
    assert planted.status_code == 403
    assert "Ce lien a été fait pour quelqu'un d'autre" in html.unescape(planted.text)
    assert w.linkedin.calls_to("access_token") == []
    assert await _account(w, "linkedin") is None  # nobody's: neither Alice's nor Mallory's
    async with w.sessions() as session:
        attempts = (await session.scalars(select(OAuthAttempt))).all()
    assert [attempt.outcome for attempt in attempts] == ["refused", "refused"]


async def test_provider_error_during_the_exchange_is_explained(world: World) -> None:
    w = world
    w.x.fail_next("token", status=503)
    page = await _dance(w, await _connect_link(w, "UEMP1", "x"), network="x")
    assert page.status_code == 400  # X's error is no server error of Relais's
    assert "X a répondu par une erreur" in page.text
    assert await _account(w, "x") is None
    async with w.sessions() as session:
        attempt = (await session.scalars(select(OAuthAttempt))).one()
        assert attempt.outcome == "provider_error"


async def test_disconnect_revokes_and_forgets_the_tokens(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    [access] = w.x.tokens
    reply = await w.slack.command("UEMP2", "disconnect x")
    assert reply["text"] == "Your X account is disconnected; its tokens are deleted."
    assert access in w.x.revoked
    assert await _account(w, "x") is None
    again = await w.slack.command("UEMP2", "disconnect x")
    assert again["text"] == "Your X account was not connected."
    unknown = await w.slack.command("UEMP2", "disconnect myspace")
    assert "/relais disconnect linkedin" in unknown["text"]


async def test_connect_overview_and_unconfigured_network(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    linkedin: FakeLinkedIn,
) -> None:
    setup_workspace(fake_slack)
    settings = make_settings(
        encryption_key=KEY,
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
    )
    async with relais_app(settings, engine, clock, fake_slack) as slack:
        overview = await slack.command("UEMP2", "connect")
        assert [b["action_id"] for b in _buttons(overview)] == ["connect_linkedin"]
        assert "X: you share through your personal link." in str(overview["blocks"])
        refused = await slack.command("UEMP2", "connect x")
        assert "not set up on this Relais" in refused["text"]


# ---------------------------------------------------------------------------------------------------
# Posting


async def test_one_click_linkedin_share_then_undo(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w, "Proud of the team")
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert answer["text"] == "Posted on LinkedIn. Thank you!"
    [(urn, post)] = w.linkedin.posts.items()
    assert post["author"] == "urn:li:person:782bbtaQ"
    assert post["commentary"] == "Proud of the team"
    assert post["body"]["content"]["article"]["source"].startswith("https://relais.example.test/r/")
    assert post["body"]["visibility"] == "PUBLIC"
    assert post["body"]["lifecycleState"] == "PUBLISHED"
    call = w.linkedin.calls_to("create_post")[0]
    assert call.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert len(call.headers["LinkedIn-Version"]) == 6
    share = await _share(w)
    assert (share.status, share.external_id) == (ShareStatus.POSTED, urn)
    assert _button(answer, "view_post")["url"] == f"https://www.linkedin.com/feed/update/{urn}/"

    # A second click does not post again.
    again = await _click_share(w, "UEMP2", "linkedin", message)
    assert again["text"] == "You already shared this on LinkedIn."
    assert len(w.linkedin.calls_to("create_post")) == 1

    undo = await w.slack.click("UEMP2", "share_undo", _button(answer, "share_undo")["value"], ephemeral=True)
    assert (await w.slack.responses(undo.url_id))[0]["text"] == "Removed from LinkedIn."
    assert urn in w.linkedin.deleted_posts
    assert not w.linkedin.posts
    assert (await _share(w)).status is ShareStatus.UNDONE
    # Nobody else can undo someone's share.
    forged = await w.slack.click("UEMP3", "share_undo", str(share.id), ephemeral=True)
    assert (await w.slack.responses(forged.url_id))[0]["text"] == "This post is no longer available."


async def test_one_click_x_share_parallel_clicks_post_once(world: World) -> None:
    w = world
    await _connect(w, "UEMP1", "x")
    message = await _publish(w, "Nouvelle levée")
    clicks = await asyncio.gather(
        *(w.slack.click("UEMP1", "share_x", "1", message_ts=message["ts"]) for _ in range(6))
    )
    assert all(c.status == 200 for c in clicks)
    answers = [(await w.slack.responses(c.url_id))[0]["text"] for c in clicks]
    assert answers.count("Publié sur X. Merci !") == 1
    assert len(w.x.tweets) == 1
    [tweet] = w.x.tweets.values()
    assert tweet["text"].startswith("Nouvelle levée https://relais.example.test/r/")
    share = await _share(w)
    assert share.status is ShareStatus.POSTED
    assert share.external_id == tweet["id"]
    assert share.external_url == f"https://x.com/i/web/status/{tweet['id']}"


async def test_401_marks_the_account_disconnected_and_offers_reconnect(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w)
    w.linkedin.fail_next("create_post", status=401, json={"message": "Invalid access token", "status": 401})
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert "refused your connection" in answer["text"]
    assert _button(answer, "connect_linkedin")["text"]["text"] == "Reconnect LinkedIn"
    share = await _share(w)
    assert (share.status, share.error) == (ShareStatus.FAILED, "unauthorized")
    account = await _account(w, "linkedin")
    assert account is not None
    assert account.status.value == "disconnected"
    # Reconnecting makes the next click post.
    await _connect(w, "UEMP2", "linkedin")
    retried = await _click_share(w, "UEMP2", "linkedin", message)
    assert retried["text"] == "Posted on LinkedIn. Thank you!"


async def test_429_waits_for_the_reset_then_posts_and_tells_the_member(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    reset = int((w.clock.now() + timedelta(minutes=12)).timestamp())
    w.x.fail_next("create_tweet", status=429, headers={"x-rate-limit-reset": str(reset)})
    answer = await _click_share(w, "UEMP2", "x", message)
    assert answer["text"] == "X is busy right now. I will try again at 09:12 and tell you how it went."
    share = await _share(w)
    assert share.status is ShareStatus.RETRYING
    async with w.sessions() as session:
        job = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "social_post"))).one()
        assert job.state is OutboxState.PENDING
        assert int(job.next_attempt_at.timestamp()) == reset

    w.clock.advance(timedelta(minutes=5))
    await _clock_pass(w)
    assert len(w.x.calls_to("create_tweet")) == 1  # not before the reset
    w.clock.advance(timedelta(minutes=8))
    await _clock_pass(w)
    assert len(w.x.tweets) == 1
    assert (await _share(w)).status is ShareStatus.POSTED
    dm = (await _dms(w, "UEMP2"))[-1]
    assert dm["text"] == "Posted on X. Thank you!"


async def test_503_then_success_is_retried_with_backoff(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w)
    w.linkedin.fail_next("create_post", status=503)
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert "I will try again at 09:00" in answer["text"]  # 30 s later, same minute in London (UTC)
    w.clock.advance(timedelta(seconds=31))
    await _clock_pass(w)
    share = await _share(w)
    assert share.status is ShareStatus.POSTED
    assert share.attempts == 2
    assert len(w.linkedin.posts) == 1


async def test_persistent_5xx_gives_up_after_bounded_attempts(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w)
    w.linkedin.fail_next("create_post", status=503, times=10)
    await _click_share(w, "UEMP2", "linkedin", message)
    for _ in range(5):
        w.clock.advance(timedelta(minutes=11))
        await _clock_pass(w)
    share = await _share(w)
    assert (share.status, share.error, share.attempts) == (ShareStatus.FAILED, "unavailable", 4)
    assert len(w.linkedin.calls_to("create_post")) == 4
    dm = (await _dms(w, "UEMP2"))[-1]
    assert "stayed unavailable after several tries" in dm["text"]


@pytest.mark.parametrize("world", [0.3], indirect=True)
async def test_timeout_after_sending_is_unknown_and_never_posted_again(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    w.x.delay("create_tweet", 1.0)
    answer = await _click_share(w, "UEMP2", "x", message)
    assert "cannot tell whether your post went out" in answer["text"]
    await asyncio.sleep(1.0)
    assert len(w.x.tweets) == 1  # the fake did post it
    share = await _share(w)
    assert share.status is ShareStatus.UNKNOWN
    w.x.delay("create_tweet", 0)
    w.clock.advance(timedelta(hours=1))
    await _clock_pass(w)
    again = await _click_share(w, "UEMP2", "x", message)
    assert "cannot tell whether" in again["text"]
    assert len(w.x.calls_to("create_tweet")) == 1
    # The member checked and asks to post it: the network itself then says it is a duplicate.
    repost = await w.slack.click("UEMP2", "share_repost", str(share.id), ephemeral=True)
    reply = (await w.slack.responses(repost.url_id))[0]
    assert "looks like one you already published" in reply["text"]
    assert len(w.x.tweets) == 1


async def test_duplicate_and_too_long_are_explained_with_edit_and_share(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    await _connect(w, "UEMP2", "x")
    message = await _publish(w, "Same words")
    w.x.fail_next(
        "create_tweet",
        status=400,
        json={
            "errors": [
                {"message": "Your Tweet text is too long: 301 weighted characters, the limit is 280."}
            ],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )
    w.linkedin.fail_next(
        "create_post", status=422, json={"message": "Content is a duplicate of urn:li:share:1", "status": 422}
    )
    duplicate = await _click_share(w, "UEMP2", "linkedin", message)
    assert "looks like one you already published" in duplicate["text"]
    assert _button(duplicate, "edit_share")["value"] == "1"
    too_long = await _click_share(w, "UEMP2", "x", message)
    assert "too long for X" in too_long["text"]
    async with w.sessions() as session:
        errors = {s.network.value: (s.status, s.error) for s in (await session.scalars(select(Share))).all()}
    assert errors == {
        "linkedin": (ShareStatus.FAILED, "duplicate"),
        "x": (ShareStatus.FAILED, "too_long"),
    }
    # Edit & share with a shorter text posts it.
    submitted = await w.slack.submit(
        "UEMP2",
        "edit_share_modal",
        {"caption": {"type": "plain_text_input", "value": "Short and mine"},
         "network": {"type": "static_select", "selected_option": {"value": "x"}}},
        private_metadata='{"post_id": 1}',
    )  # fmt: skip
    assert submitted.status_code == 200, submitted.text
    await eventually(lambda: _tweeted(w))
    dm = (await _dms(w, "UEMP2", 3))[-1]  # after the two "connected" messages
    assert dm["text"] == "Posted on X. Thank you!"


async def _tweeted(w: World) -> bool:
    return len(w.x.tweets) == 1


async def test_expired_linkedin_token_asks_to_reconnect_and_is_warned_a_week_before(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w)
    w.clock.advance(timedelta(days=52))
    await _clock_pass(w)
    assert len(w.slack.fake.messages[w.slack.fake.dm_channel_id("UEMP2")]) == 1  # only "connected"
    w.clock.advance(timedelta(days=2))  # 6 days left
    await _clock_pass(w)
    warning = (await _dms(w, "UEMP2", 2))[-1]
    assert "Your LinkedIn connection ends on 2027-01-24" in warning["text"]
    assert _button(warning, "connect_linkedin")
    await _clock_pass(w)
    assert len(w.slack.fake.messages[w.slack.fake.dm_channel_id("UEMP2")]) == 2  # told once

    w.clock.advance(timedelta(days=7))
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert "refused your connection" in answer["text"]
    assert w.linkedin.calls_to("create_post") == []
    assert (await _share(w)).error == "unauthorized"


async def test_x_token_is_refreshed_before_expiry_and_once_on_a_401(
    world: World, engine: AsyncEngine
) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w, "One")
    [first_refresh] = w.x.refresh_tokens
    w.clock.advance(timedelta(hours=1, minutes=56))  # 4 minutes left: refreshed before use
    answer = await _click_share(w, "UEMP2", "x", message)
    assert answer["text"] == "Posted on X. Thank you!"
    refreshes = [c for c in w.x.calls_to("token") if (c.form or {}).get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert first_refresh not in w.x.refresh_tokens  # rotated; the new one is stored
    account = await _account(w, "x")
    assert account is not None
    assert account.refresh_token_encrypted is not None
    [second_refresh] = w.x.refresh_tokens
    assert w.settings.fernet.decrypt(account.refresh_token_encrypted.encode()).decode() == second_refresh

    # X revokes the access token early: one refresh, one retry, posted.
    for token in list(w.x.tokens):
        w.x.expire_token(token)
    await w.slack.command("UADMIN", f"queue <{w.article}/second> Two <#C0NEWS|news>")
    await eventually(lambda: _messages(w, 2))
    second = w.slack.fake.messages["C0NEWS"][-1]
    clicked = await w.slack.click("UEMP2", "share_x", "2", message_ts=second["ts"])
    assert (await w.slack.responses(clicked.url_id))[0]["text"] == "Posted on X. Thank you!"
    refreshes = [c for c in w.x.calls_to("token") if (c.form or {}).get("grant_type") == "refresh_token"]
    assert len(refreshes) == 2
    assert [c.status for c in w.x.calls_to("create_tweet")] == [201, 401, 201]
    await _assert_no_plaintext(engine, [*w.x.tokens, *w.x.refresh_tokens, first_refresh])


async def _messages(w: World, count: int) -> bool:
    return len(w.slack.fake.messages.get("C0NEWS", [])) >= count


async def test_a_retry_of_a_withdrawn_post_does_not_post(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    w.x.fail_next("create_tweet", status=503)
    await _click_share(w, "UEMP2", "x", message)
    assert (await _share(w)).status is ShareStatus.RETRYING
    await w.slack.command("UADMIN", "cancel 1")
    w.clock.advance(timedelta(minutes=1))
    await _clock_pass(w)
    share = await _share(w)
    assert (share.status, share.error) == (ShareStatus.FAILED, "withdrawn")
    assert len(w.x.calls_to("create_tweet")) == 1
    dm = (await _dms(w, "UEMP2", 2))[-1]
    assert dm["text"] == "The post was withdrawn before X could take it, so nothing was posted."


async def test_a_post_interrupted_by_a_crash_becomes_unknown(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    await _publish(w)
    async with w.sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        session.add(
            Share(workspace_id=member.workspace_id, member_id=member.id, post_id=1, network="linkedin",
                  status=ShareStatus.PENDING, attempts=1, created_at=CREATED, updated_at=CREATED)
        )  # fmt: skip
        await session.flush()
        session.add(
            OutboxMessage(workspace_id=member.workspace_id, kind="social_post", destination="1",
                          payload={"share_id": 1}, state=OutboxState.SENDING, attempts=1,
                          next_attempt_at=w.clock.now(), updated_at=w.clock.now(), created_at=w.clock.now())
        )  # fmt: skip
        await session.commit()
    w.clock.advance(timedelta(minutes=11))
    await _clock_pass(w)
    assert (await _share(w)).status is ShareStatus.UNKNOWN
    assert w.linkedin.calls_to("create_post") == []
    dm = (await _dms(w, "UEMP2", 2))[-1]
    assert "cannot tell whether your post went out" in dm["text"]


async def test_home_shows_connections_with_their_buttons(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    assert await w.slack.event({"type": "app_home_opened", "user": "UEMP2", "tab": "home"}) == 200
    await w.slack.fake.wait_for_calls("views.publish")
    view = w.slack.fake.calls_to("views.publish")[-1].params["view"]
    actions = [
        b["accessory"]["action_id"] for b in view["blocks"] if (b.get("accessory") or {}).get("action_id")
    ]
    assert "disconnect_linkedin" in actions
    assert "connect_x" in actions
    clicked = await w.slack.click("UEMP2", "disconnect_linkedin", "linkedin", home=True)
    assert clicked.status == 200
    await eventually(lambda: _gone(w))


async def _gone(w: World) -> bool:
    return await _account(w, "linkedin") is None


async def test_tokens_never_reach_the_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Through a 503, a refresh, a 401, a refused refresh and a revocation: no token, code or state in
    any log line."""
    w = world
    caplog.set_level("DEBUG")
    await _connect(w, "UEMP2", "x")
    seen = {*w.x.tokens, *w.x.refresh_tokens, *w.x.codes}
    seen |= {q["state"] for q in w.x.authorization_requests}
    message = await _publish(w)
    w.x.fail_next("create_tweet", status=503)
    await _click_share(w, "UEMP2", "x", message)  # 503: will retry
    w.clock.advance(timedelta(hours=2))
    await _clock_pass(w)  # refresh, then posted
    seen |= {*w.x.tokens, *w.x.refresh_tokens}
    for token in list(w.x.tokens):
        w.x.expire_token(token)
    w.x.refresh_tokens.clear()
    await w.slack.command("UADMIN", f"queue <{w.article}/second> Two <#C0NEWS|news>")
    await eventually(lambda: _messages(w, 2))
    await _click_share(w, "UEMP2", "x", w.slack.fake.messages["C0NEWS"][-1])  # 401, refused refresh
    await _connect(w, "UEMP2", "x")
    seen |= {*w.x.tokens, *w.x.refresh_tokens, *w.x.codes}
    await w.slack.command("UEMP2", "disconnect x")  # revocation
    assert len(seen) > 6
    for secret in seen:
        assert secret not in caplog.text


async def test_stale_attempts_cannot_be_used_after_the_callback_window(world: World) -> None:
    w = world
    link = await _connect_link(w, "UEMP2", "linkedin")
    start = await _browse(w, link, user="UEMP2")
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    consent = await _consent(start.headers["Location"])
    w.clock.advance(timedelta(minutes=16))
    late = await _browse(w, consent.headers["Location"], cookie, user="UEMP2")
    assert late.status_code == 400
    assert "expired" in late.text
    assert await _account(w, "linkedin") is None
    assert w.linkedin.calls_to("access_token") == []
    # A day later the clock forgets the attempt altogether.
    w.clock.advance(timedelta(days=1))
    await _clock_pass(w)
    async with w.sessions() as session:
        assert (await session.scalars(select(OAuthAttempt))).all() == []


async def test_two_processes_refreshing_one_x_account_both_get_a_token(world: World) -> None:
    """The web process and the clock (each with its own lock) refresh at once: X accepts the refresh
    token once; the loser uses the pair the winner stored rather than disconnecting the member."""
    w = world
    await _connect(w, "UEMP2", "x")
    account = await _account(w, "x")
    assert account is not None
    w.clock.advance(timedelta(hours=2))
    w.x.delay("token", 0.3)  # both have read the spent refresh token before either answer comes back
    http = new_http_client()
    try:
        client = build_social_clients(w.settings, http)[Network.X]
        tokens = await asyncio.gather(
            *(
                connections.access_token(
                    w.sessions,
                    cipher=w.settings.fernet,
                    client=client,
                    account_id=account.id,
                    now=w.clock.now(),
                    lock=asyncio.Lock(),
                )
                for _ in range(2)
            )
        )
    finally:
        await http.aclose()
    refreshes = [c for c in w.x.calls_to("token") if (c.form or {}).get("grant_type") == "refresh_token"]
    assert sorted(c.status for c in refreshes) == [200, 400]
    assert tokens[0] == tokens[1]
    assert tokens[0] in w.x.tokens
    account = await _account(w, "x")
    assert account is not None
    assert account.status.value == "connected"


async def test_a_refused_x_refresh_asks_to_reconnect(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    w.x.refresh_tokens.clear()  # revoked on X's side
    w.clock.advance(timedelta(hours=2))
    answer = await _click_share(w, "UEMP2", "x", message)
    assert "refused your connection" in answer["text"]
    assert _button(answer, "connect_x")
    assert w.x.calls_to("create_tweet") == []
    account = await _account(w, "x")
    assert account is not None
    assert account.status.value == "disconnected"


async def test_undo_on_x_and_an_undo_that_cannot_run(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w)
    posted_x = await _click_share(w, "UEMP2", "x", message)
    posted_li = await _click_share(w, "UEMP2", "linkedin", message)
    undo_x = await w.slack.click(
        "UEMP2", "share_undo", _button(posted_x, "share_undo")["value"], ephemeral=True
    )
    assert (await w.slack.responses(undo_x.url_id))[0]["text"] == "Removed from X."
    assert not w.x.tweets
    assert len(w.x.deleted_tweets) == 1
    # LinkedIn refuses the token: the post stays, and the member is told why, with Reconnect.
    w.linkedin.fail_next("delete_post", status=401, json={"message": "Invalid access token", "status": 401})
    undo_li = await w.slack.click(
        "UEMP2", "share_undo", _button(posted_li, "share_undo")["value"], ephemeral=True
    )
    reply = (await w.slack.responses(undo_li.url_id))[0]
    assert "the post is still there" in reply["text"]
    assert _button(reply, "connect_linkedin")
    assert len(w.linkedin.posts) == 1
    async with w.sessions() as session:
        statuses = {s.network.value: s.status for s in (await session.scalars(select(Share))).all()}
    assert statuses == {"x": ShareStatus.UNDONE, "linkedin": ShareStatus.POSTED}


async def test_sharing_again_after_a_failure_gets_its_retries_again(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w)
    w.linkedin.fail_next("create_post", status=503, times=4)
    await _click_share(w, "UEMP2", "linkedin", message)
    for _ in range(4):
        w.clock.advance(timedelta(minutes=11))
        await _clock_pass(w)
    assert (await _share(w)).status is ShareStatus.FAILED
    w.linkedin.fail_next("create_post", status=503)
    again = await _click_share(w, "UEMP2", "linkedin", message)
    assert "I will try again" in again["text"]
    w.clock.advance(timedelta(minutes=1))
    await _clock_pass(w)
    share = await _share(w)
    assert (share.status, share.attempts) == (ShareStatus.POSTED, 2)


async def test_nobody_else_can_repost_a_share(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    w.x.fail_next("create_tweet", status=504)
    answer = await _click_share(w, "UEMP2", "x", message)
    share_id = _button(answer, "share_repost")["value"]
    forged = await w.slack.click("UEMP3", "share_repost", share_id, ephemeral=True)
    assert (await w.slack.responses(forged.url_id))[0]["text"] == "This post is no longer available."
    assert (await _share(w)).status is ShareStatus.UNKNOWN
    assert len(w.x.calls_to("create_tweet")) == 1


# ---------------------------------------------------------------------------------------------------
# A counted share stays counted


async def _open_personal_link(w: World, user: str, network: str) -> dict[str, Any]:
    clicked = await w.slack.click(user, f"open_share_{network}", f"1:{network}", ephemeral=True)
    return (await w.slack.responses(clicked.url_id))[0]


async def test_a_refused_api_post_keeps_the_earlier_intent_share_counted(world: World) -> None:
    """Told "counted" after opening the personal link, the member connects LinkedIn and presses Share;
    LinkedIn refuses a duplicate (they had posted by hand): the share still counts."""
    w = world
    message = await _publish(w)
    opened = await _open_personal_link(w, "UEMP2", "linkedin")
    assert "counted" in opened["text"]
    assert "All time: 1" in (await w.slack.command("UEMP2", "me"))["text"]

    await _connect(w, "UEMP2", "linkedin")
    w.linkedin.fail_next(
        "create_post", status=422, json={"message": "Content is a duplicate of urn:li:share:9", "status": 422}
    )
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert "looks like one you already published" in answer["text"]
    share = await _share(w)
    assert (share.status, share.error) == (ShareStatus.INTENT, "duplicate")
    assert "All time: 1" in (await w.slack.command("UEMP2", "me"))["text"]
    assert "Shares: 1 (LinkedIn 1, X 0)" in (await w.slack.command("UADMIN", "stats"))["text"]

    # Share again: LinkedIn is asked once more (a failed post was definitely not posted) and posts it.
    again = await _click_share(w, "UEMP2", "linkedin", message)
    assert again["text"] == "Posted on LinkedIn. Thank you!"
    assert (await _share(w)).status is ShareStatus.POSTED


async def test_an_unknown_api_post_keeps_the_intent_counted_and_is_never_reposted_blindly(
    world: World,
) -> None:
    w = world
    message = await _publish(w)
    await _open_personal_link(w, "UEMP2", "x")
    await _connect(w, "UEMP2", "x")
    w.x.fail_next("create_tweet", status=504)
    answer = await _click_share(w, "UEMP2", "x", message)
    assert "cannot tell whether your post went out" in answer["text"]
    share = await _share(w)
    assert (share.status, share.error) == (ShareStatus.INTENT, "unknown")
    assert "All time: 1" in (await w.slack.command("UEMP2", "me"))["text"]
    # Share again does not post blindly: the member is asked to check, and Repost is theirs to press.
    again = await _click_share(w, "UEMP2", "x", message)
    assert "cannot tell whether your post went out" in again["text"]
    assert len(w.x.calls_to("create_tweet")) == 1
    repost = await w.slack.click(
        "UEMP2", "share_repost", _button(again, "share_repost")["value"], ephemeral=True
    )
    assert (await w.slack.responses(repost.url_id))[0]["text"] == "Posted on X. Thank you!"
    assert (await _share(w)).status is ShareStatus.POSTED


async def test_a_retried_api_post_that_finally_fails_restores_the_intent(world: World) -> None:
    w = world
    message = await _publish(w)
    await _open_personal_link(w, "UEMP2", "linkedin")
    await _connect(w, "UEMP2", "linkedin")
    w.linkedin.fail_next("create_post", status=503, times=4)
    await _click_share(w, "UEMP2", "linkedin", message)
    for _ in range(3):
        # While LinkedIn is retried, the share Bob was told is counted stays counted.
        assert (await _share(w)).status is ShareStatus.RETRYING
        me = (await w.slack.command("UEMP2", "me"))["text"]
        assert "All time: 1" in me
        assert "Top sharers: <@UEMP2> (1)" in (await w.slack.command("UADMIN", "stats"))["text"]
        w.clock.advance(timedelta(minutes=11))
        await _clock_pass(w)
    w.clock.advance(timedelta(minutes=11))
    await _clock_pass(w)
    share = await _share(w)
    assert (share.status, share.error) == (ShareStatus.INTENT, "unavailable")
    assert "All time: 1" in (await w.slack.command("UEMP2", "me"))["text"]


# ---------------------------------------------------------------------------------------------------
# The LinkedIn card


async def test_a_linkedin_share_shows_the_article_as_a_card_with_its_thumbnail(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w, "Proud of the team #launch, setup: <https://example.com/docs/#install>")
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert answer["text"] == "Posted on LinkedIn. Thank you!"
    [post] = w.linkedin.posts.values()
    # The link is the card's source, not text: a `#` inside a link is not a hashtag.
    assert post["commentary"] == (
        "Proud of the team {hashtag|\\#|launch}, setup: https://example.com/docs/\\#install"
    )
    card = post["body"]["content"]["article"]
    async with w.sessions() as session:
        code = (await session.scalars(select(TrackedLink.code))).one()
    assert card["source"] == f"{PUBLIC}/r/{code}"
    assert (card["title"], card["description"]) == ("Acme raises & grows", "Acme announces its new round.")
    image = w.linkedin.images[card["thumbnail"]]
    assert (image["status"], image["data"], image["owner"]) == ("AVAILABLE", PNG, "urn:li:person:782bbtaQ")
    [init] = w.linkedin.calls_to("initialize_image_upload")
    assert init.json == {"initializeUploadRequest": {"owner": "urn:li:person:782bbtaQ"}}
    assert len(init.headers["LinkedIn-Version"]) == 6


async def test_a_failed_thumbnail_upload_still_posts_the_card(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    message = await _publish(w, "Proud of the team")
    w.linkedin.fail_next("initialize_image_upload", status=500)
    answer = await _click_share(w, "UEMP2", "linkedin", message)
    assert answer["text"] == "Posted on LinkedIn. Thank you!"
    [post] = w.linkedin.posts.values()
    card = post["body"]["content"]["article"]
    assert card["title"] == "Acme raises & grows"
    assert "thumbnail" not in card
    assert len(w.linkedin.calls_to("create_post")) == 1


async def test_a_thumbnail_on_a_private_address_is_never_fetched(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "linkedin")
    await w.slack.command("UADMIN", f"queue <{w.article}/private/page> Inside <#C0NEWS|news>")
    await eventually(lambda: _has_message(w.slack.fake, "C0NEWS"))
    async with w.sessions() as session:
        [queued] = (await session.scalars(select(Post))).all()
    assert (
        queued.image_url == f"{w.linkedin.base_url}/internal/cover.png"
    )  # kept from the page, never fetched
    answer = await _click_share(w, "UEMP2", "linkedin", w.slack.fake.messages["C0NEWS"][-1])
    assert answer["text"] == "Posted on LinkedIn. Thank you!"
    [post] = w.linkedin.posts.values()
    assert "thumbnail" not in post["body"]["content"]["article"]
    assert not [call for call in w.linkedin.calls if call.path.startswith("/internal/")]
    assert w.linkedin.calls_to("initialize_image_upload") == []


async def test_a_caption_too_long_for_linkedin_once_escaped_is_refused_when_queued(world: World) -> None:
    """2,000 characters, each escaped by LinkedIn (`*` → `\\*`): 4,000 characters of commentary."""
    w = world
    form: dict[str, dict[str, Any]] = {
        "url": {"type": "url_text_input", "value": f"{w.article}/long"},
        "networks": {"type": "checkboxes", "selected_options": [{"value": "linkedin"}]},
        "channels": {"type": "multi_conversations_select", "selected_conversations": ["C0NEWS"]},
        "caption_1": {"type": "plain_text_input", "value": "*" * 2000},
    }
    response = await w.slack.submit("UADMIN", "queue_modal", form)
    assert response.status_code == 200
    assert response.json() == {
        "response_action": "errors",
        "errors": {"caption_1": "A caption for LinkedIn can be at most 3000 characters (this one has 4000)."},
    }
    form["caption_1"]["value"] = "*" * 1500  # 3,000 once escaped: fits
    accepted = await w.slack.submit("UADMIN", "queue_modal", form)
    assert (accepted.status_code, accepted.text) == (200, "")
    await eventually(lambda: _has_message(w.slack.fake, "C0NEWS"))
    async with w.sessions() as session:
        [post] = (await session.scalars(select(Post))).all()
    assert post.captions == ["*" * 1500]


# ---------------------------------------------------------------------------------------------------
# X: undo and the 24-hour usage cap


async def test_an_x_undo_answered_deleted_false_is_not_undone(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    posted = await _click_share(w, "UEMP2", "x", await _publish(w))
    [tweet_id] = w.x.tweets
    w.x.undeletable.add(tweet_id)
    undo = await w.slack.click("UEMP2", "share_undo", _button(posted, "share_undo")["value"], ephemeral=True)
    reply = (await w.slack.responses(undo.url_id))[0]
    assert reply["text"] == "X did not let me remove the post just now; please try again in a moment."
    assert _button(reply, "share_undo")
    assert tweet_id in w.x.tweets
    assert (await _share(w)).status is ShareStatus.POSTED


async def test_an_x_usage_cap_waits_for_the_day_reset_and_the_member_is_told_when(world: World) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    window = int((w.clock.now() + timedelta(minutes=15)).timestamp())
    day = int((w.clock.now() + timedelta(hours=20)).timestamp())
    w.x.fail_next(
        "create_tweet",
        status=429,
        headers={
            "x-rate-limit-remaining": "99",
            "x-rate-limit-reset": str(window),
            "x-app-limit-24hour-limit": "10000",
            "x-app-limit-24hour-remaining": "0",
            "x-app-limit-24hour-reset": str(day),
        },
    )
    answer = await _click_share(w, "UEMP2", "x", message)
    assert answer["text"] == (
        "X is busy right now. I will try again at 2026-11-26 05:00 and tell you how it went."
    )
    async with w.sessions() as session:
        job = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "social_post"))).one()
        assert int(job.next_attempt_at.timestamp()) == day
    w.clock.advance(timedelta(minutes=16))
    await _clock_pass(w)
    assert len(w.x.calls_to("create_tweet")) == 1  # not after the 15-minute window
    w.clock.advance(timedelta(hours=20))
    await _clock_pass(w)
    assert len(w.x.tweets) == 1
    assert (await _share(w)).status is ShareStatus.POSTED


# ---------------------------------------------------------------------------------------------------
# Time zones


async def _member_without_a_zone_in_a_workspace_in_paris(w: World) -> None:
    """Noa's Slack profile has no time zone; the admin's leaderboard schedule makes Paris the workspace's."""
    w.slack.fake.add_user("UNOA", real_name="Noa", locale="en-US", tz="", tz_offset=0)
    reply = await w.slack.command("UADMIN", "schedule leaderboard fri 16:00")
    assert reply["text"] == "Done: the leaderboard on fri at 16:00."


async def _zone_of(w: World, user: str) -> str | None:
    async with w.sessions() as session:
        return (await session.scalars(select(Member.timezone).where(Member.external_id == user))).one()


async def test_a_retry_is_announced_in_the_workspace_s_zone_to_a_member_without_one(world: World) -> None:
    w = world
    await _member_without_a_zone_in_a_workspace_in_paris(w)
    await _connect(w, "UNOA", "x")
    assert await _zone_of(w, "UNOA") is None
    message = await _publish(w)
    reset = int((w.clock.now() + timedelta(minutes=12)).timestamp())
    w.x.fail_next("create_tweet", status=429, headers={"x-rate-limit-reset": str(reset)})
    answer = await _click_share(w, "UNOA", "x", message)
    # 09:12 UTC is 10:12 in Paris, as `/relais list` shows her times.
    assert answer["text"] == "X is busy right now. I will try again at 10:12 and tell you how it went."


async def test_a_connection_s_last_day_is_given_in_the_workspace_s_zone_to_a_member_without_one(
    world: World,
) -> None:
    w = world
    await _member_without_a_zone_in_a_workspace_in_paris(w)
    w.clock.advance(timedelta(hours=14, minutes=30))  # 23:30 UTC: 00:30 the next day in Paris
    await _connect(w, "UNOA", "linkedin")
    assert await _zone_of(w, "UNOA") is None
    account = await _account(w, "linkedin")
    assert account is not None
    assert account.expires_at == datetime(2027, 1, 24, 23, 30, tzinfo=UTC)
    await _dms(w, "UNOA", 1)  # "connected", sent after the answer, before the clock moves on
    w.clock.advance(timedelta(days=54))  # 6 days left
    await _clock_pass(w)
    warning = (await _dms(w, "UNOA", 2))[-1]
    assert "Your LinkedIn connection ends on 2027-01-25" in warning["text"]


# ---------------------------------------------------------------------------------------------------
# Ranks: `/relais me` ranks from a snapshot corrected by the members whose shares changed since it, less a
# minute for late commits (`scores.LATE_COMMIT`). A share's change is stamped when it is written, not
# when its call to the network began: a slow network (a token refresh, a thumbnail upload, a long answer)
# would otherwise land it in the past of a snapshot taken meanwhile, left out of everyone else's rank.


async def test_an_api_post_that_ends_after_a_snapshot_still_counts_in_everyone_s_rank(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    opened = await w.slack.click("UEMP3", "open_share_x", "1:x", ephemeral=True)
    await w.slack.responses(opened.url_id)  # Carla: 3 points (her personal link)
    first = await w.slack.command("UEMP3", "me")  # the snapshot is built
    assert "Rank: 1 of 1 participants" in first["text"]

    monkeypatch.setattr(scores, "FOLD_AFTER", 0)  # every change is folded at the next look
    w.x.delay("create_tweet", 1.0)
    clicked = await w.slack.click("UEMP2", "share_x", "1", message_ts=message["ts"])
    assert clicked.status == 200

    async def posting() -> bool:
        return bool(w.x.calls_to("create_tweet"))

    await eventually(posting)
    # The network takes its time; meanwhile, minutes later, Carla looks again: the snapshot moves on.
    w.clock.advance(timedelta(minutes=2))
    await w.slack.command("UEMP3", "me")
    async with w.sessions() as session:
        assert await session.scalar(select(PointsRefresh.as_of)) == w.clock.now()
    answer = (await w.slack.responses(clicked.url_id))[0]
    assert answer["text"] == "Posted on X. Thank you!"
    async with w.sessions() as session:
        share = await session.scalar(select(Share).where(Share.status == ShareStatus.POSTED))
        assert share is not None  # Bob's post went out: 10 points

    again = await w.slack.command("UEMP3", "me")
    assert "Points: 3" in again["text"]
    assert "Rank: 2 of 2 participants" in again["text"], again["text"]


async def test_an_undo_that_ends_after_a_snapshot_is_left_out_of_everyone_s_rank(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    await _connect(w, "UEMP2", "x")
    message = await _publish(w)
    opened = await w.slack.click("UEMP3", "open_share_x", "1:x", ephemeral=True)
    await w.slack.responses(opened.url_id)  # Carla: 3 points (her personal link)
    posted = await _click_share(w, "UEMP2", "x", message)  # Bob: 10 points (posted on X)
    first = await w.slack.command("UEMP3", "me")  # the snapshot is built
    assert "Rank: 2 of 2 participants" in first["text"]

    monkeypatch.setattr(scores, "FOLD_AFTER", 0)  # every change is folded at the next look
    w.x.delay("delete_tweet", 1.0)
    undo = await w.slack.click("UEMP2", "share_undo", _button(posted, "share_undo")["value"], ephemeral=True)
    assert undo.status == 200

    async def deleting() -> bool:
        return bool(w.x.calls_to("delete_tweet"))

    await eventually(deleting)
    w.clock.advance(timedelta(minutes=2))
    await w.slack.command("UEMP3", "me")  # the snapshot moves on while X takes its time
    assert (await w.slack.responses(undo.url_id))[0]["text"] == "Removed from X."

    again = await w.slack.command("UEMP3", "me")
    assert "Rank: 1 of 1 participants" in again["text"], again["text"]
