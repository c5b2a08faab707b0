"""Many Slack workspaces from one deployment (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_STATE_SECRET): OAuth
v2 installs through GET /slack/install and /slack/oauth_redirect against the fake Slack (`oauth.v2.access`),
each workspace then served with its own bot token in and out of requests, an uninstall stopping a workspace
until it is installed again, requests that name another workspace's rows, and an Enterprise Grid
organisation's installation serving its workspaces."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, func, select, update
from sqlalchemy import event as sql_event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import ConfigError, Settings, load_settings
from bot.demo.fake_slack import FakeSlack
from bot.services import installs as installs_service
from bot.services import outbox
from bot.services.installs import CACHE_TTL, Installs
from handlers.slack.platform import SlackPlatform
from models import (
    Delivery,
    Dismissal,
    Member,
    OutboxMessage,
    OutboxState,
    Post,
    PostState,
    Share,
    SlackInstallation,
    SlackOAuthState,
    TrackedLink,
    WebSession,
    Workspace,
)
from scheduler import jobs
from tests.bot.test_properties_http import assert_no_server_error, header_value, nasty_text
from tests.erasure_scan import leftovers
from tests.handlers.slack.driver import (
    TEAM,
    SettingsFactory,
    SlackDriver,
    eventually,
    queue_form,
    relais_app,
    setup_workspace,
)
from tests.handlers.slack.test_signin import Browser, Site

Sessions = async_sessionmaker[AsyncSession]

GLOBEX = "T0002"
KEY = Fernet.generate_key().decode()
STATE_SECRET = "state-secret-for-tests-0123456789"  # a test's, never a real one
REDIRECT_URI = "https://relais.example.test/slack/oauth_redirect"
# Friday 27 November 2026, 17:00 UTC: after the week's leaderboard moment (Friday 16:00) everywhere here.
BOARD_TIME = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
# Tuesday 1 December 2026, 10:00 UTC: the reminders' moment (Tuesday 10:00) in London.
NUDGE_TIME = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(make_settings: SettingsFactory, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        slack_bot_token=None,
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_state_secret=STATE_SECRET,
        slack_authorize_url=fake_slack.install_url,
        slack_oidc_authorize_url=fake_slack.authorize_url,
        encryption_key=KEY,
    )


@pytest.fixture
async def web(
    settings: Settings,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[SlackDriver]:
    """Relais serving installs, acting in Acme (T0001); Globex (T0002) is the second workspace. Bolt finds
    SLACK_CLIENT_ID and SLACK_CLIENT_SECRET in the environment, as in a real deployment."""
    monkeypatch.setenv("SLACK_CLIENT_ID", fake_slack.client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", fake_slack.client_secret)
    setup_workspace(fake_slack)
    fake_slack.add_team(GLOBEX, "Globex")
    fake_slack.add_user("UGADMIN", real_name="Gina Admin", is_admin=True, tz="Europe/London", team_id=GLOBEX)
    fake_slack.add_user("UGEMP", real_name="Gus", tz="America/New_York", team_id=GLOBEX)
    fake_slack.add_user("UGEMP2", real_name="Greta", tz="Europe/London", team_id=GLOBEX)
    fake_slack.add_channel("C0GNEWS", "globex-news", team_id=GLOBEX)
    async with relais_app(settings, engine, clock, fake_slack) as driver:
        yield driver


def globex_of(web: SlackDriver) -> SlackDriver:
    return SlackDriver(web.client, web.fake, team=GLOBEX)


@dataclass
class Started:
    """An install begun in a browser: its state cookie, and where Slack sends it back."""

    cookie: str
    back: str  # path and query of the redirect
    state: str


async def begin_install(
    slack: SlackDriver, user: str, *, team: str | None = None, enterprise: str | None = None, lang: str = "en"
) -> Started:
    """Open the install page, follow its link to Slack's authorize page as `user` (who allows it there),
    and stop where Slack redirects the browser back to Relais."""
    slack.fake.install_as(user, team_id=team, enterprise_id=enterprise)
    page = await slack.client.get("/slack/install", headers={"Accept-Language": lang})
    assert page.status_code == 200
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    match = re.search(r'href="([^"]+)"', page.text)
    assert match is not None
    authorize = html.unescape(match[1])
    async with httpx.AsyncClient() as browser:
        at_slack = await browser.get(authorize)
    assert at_slack.status_code == 302
    back = urlsplit(at_slack.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT_URI
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    return Started(cookie=cookie, back=f"{back.path}?{back.query}", state=state)


async def finish(
    slack: SlackDriver, started: Started, *, lang: str = "en", cookie: bool = True
) -> httpx.Response:
    headers = {"Accept-Language": lang} | ({"Cookie": started.cookie} if cookie else {})
    return await slack.client.get(started.back, headers=headers)


async def install(
    slack: SlackDriver, user: str, *, team: str | None = None, enterprise: str | None = None, lang: str = "en"
) -> httpx.Response:
    started = await begin_install(slack, user, team=team, enterprise=enterprise, lang=lang)
    return await finish(slack, started, lang=lang)


async def _count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def _workspace(sessions: Sessions, team: str) -> Workspace | None:
    async with sessions() as session:
        found: Workspace | None = await session.scalar(select(Workspace).where(Workspace.external_id == team))
        return found


async def _none_left(sessions: Sessions) -> bool:
    return await _count(sessions, SlackInstallation) == 0


def clock_job(settings: Settings, sessions: Sessions, at: datetime) -> jobs.Context:
    """The clock's jobs at `at`, sending through the Slack notifier `relais clock` builds."""
    clock = FrozenClock(at)
    return jobs.Context(sessions, {"slack": SlackPlatform().notifier(settings, sessions, clock)}, clock.now)


# ---------------------------------------------------------------------------------------------------------
# Settings


def test_installs_and_a_bot_token_are_not_mixed() -> None:
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN is refused because SLACK_STATE_SECRET is set"):
        load_settings(
            _env_file=None,
            slack_bot_token="xoxb-1",
            slack_client_id="1.2",
            slack_client_secret="s",
            slack_state_secret="x",
        )
    with pytest.raises(ConfigError, match=r"^RELAIS_CHANNEL is refused because SLACK_STATE_SECRET is set"):
        load_settings(
            _env_file=None,
            relais_channel="C0NEWS",
            slack_client_id="1.2",
            slack_client_secret="s",
            slack_state_secret="x",
        )
    with pytest.raises(ConfigError, match=r"^SLACK_CLIENT_ID is not set but SLACK_STATE_SECRET is set"):
        load_settings(_env_file=None, slack_state_secret="x")
    settings = load_settings(
        _env_file=None,
        slack_signing_secret="s",
        slack_client_id="1.2",
        slack_client_secret="s",
        slack_state_secret="x",
    )
    assert settings.slack_installs
    with pytest.raises(ConfigError, match=r"^ENCRYPTION_KEY is not set but SLACK_STATE_SECRET is set"):
        settings.require_slack()


# ---------------------------------------------------------------------------------------------------------
# 1. The install flow


async def test_two_workspaces_install_through_oauth_v2(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, settings: Settings, clock: FrozenClock
) -> None:
    acme = await install(web, "UADMIN")
    assert acme.status_code == 200
    assert "Relais is installed in Acme." in acme.text
    globex = await install(web, "UGADMIN", team=GLOBEX, lang="fr-FR")
    assert globex.status_code == 200
    assert "Relais est installé dans Globex." in globex.text

    first, second = fake_slack.calls_to("oauth/v2/authorize")
    for call in (first, second):
        assert call.params["client_id"] == fake_slack.client_id
        assert call.params["redirect_uri"] == REDIRECT_URI
        assert {"commands", "chat:write", "users:read"} <= set(call.params["scope"].split(","))
    assert first.params["state"] != second.params["state"]
    exchanges = fake_slack.calls_to("oauth.v2.access")
    assert len(exchanges) == 2
    assert all(call.headers["Authorization"].startswith("Basic ") for call in exchanges)

    async with sessions() as session:
        rows = {row.team_id: row for row in (await session.scalars(select(SlackInstallation))).all()}
        workspaces = {w.external_id: w for w in (await session.scalars(select(Workspace))).all()}
        assert await session.scalar(select(func.count()).select_from(SlackOAuthState)) == 0  # each used once
    assert set(rows) == {TEAM, GLOBEX}
    for team, installer in ((TEAM, "UADMIN"), (GLOBEX, "UGADMIN")):
        row, token = rows[team], fake_slack.install_of(team).bot_token
        assert token not in row.bot_token_encrypted  # kept encrypted, with ENCRYPTION_KEY
        assert settings.fernet.decrypt(row.bot_token_encrypted.encode()).decode() == token
        assert (row.installer_user_id, row.is_enterprise_install, row.enterprise_id) == (
            installer,
            False,
            None,
        )
        assert row.bot_user_id == fake_slack.install_of(team).bot_user_id
        assert row.installed_at == clock.now()
    assert fake_slack.install_of(TEAM).bot_token != fake_slack.install_of(GLOBEX).bot_token
    assert (workspaces[TEAM].name, workspaces[GLOBEX].name) == ("Acme", "Globex")
    assert workspaces[GLOBEX].platform == "slack"
    assert workspaces[GLOBEX].uninstalled_at is None


async def test_a_forged_expired_or_reused_state_is_refused_and_nothing_is_stored(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    # A state Relais never issued, with a cookie that matches it.
    forged = await web.client.get(
        "/slack/oauth_redirect?code=install.forged&state=forged",
        headers={"Cookie": "slack-app-oauth-state=forged"},
    )
    assert forged.status_code == 400
    assert "Not installed" in forged.text
    assert "https://relais.example.test/slack/install" in forged.text

    # A state issued to another browser (no cookie), then to this one but used too late.
    started = await begin_install(web, "UADMIN")
    elsewhere = await finish(web, started, cookie=False, lang="fr")
    assert elsewhere.status_code == 400
    assert "ouverte dans un autre navigateur" in elsewhere.text
    clock.advance(timedelta(minutes=11))
    late = await finish(web, started)
    assert late.status_code == 400

    # Cancelled on Slack's page.
    fake_slack.install_as("UADMIN", consents=False)
    page = await web.client.get("/slack/install")
    match = re.search(r'href="([^"]+)"', page.text)
    assert match is not None
    async with httpx.AsyncClient() as browser:
        back = urlsplit((await browser.get(html.unescape(match[1]))).headers["location"])
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    cancelled = await web.client.get(f"{back.path}?{back.query}", headers={"Cookie": cookie})
    assert cancelled.status_code == 400
    assert "The installation was cancelled." in cancelled.text

    # A code Slack does not know, with a good state.
    started = await begin_install(web, "UADMIN")
    refused = await web.client.get(
        f"/slack/oauth_redirect?code=install.unknown&state={started.state}",
        headers={"Cookie": started.cookie},
    )
    assert refused.status_code == 400
    assert [c.params.get("code") for c in fake_slack.calls_to("oauth.v2.access")] == ["install.unknown"]
    assert await _count(sessions, SlackInstallation) == 0
    assert await _count(sessions, Workspace) == 0

    # A state used once: replaying the redirect (same URL, same cookie) installs nothing more.
    started = await begin_install(web, "UADMIN")
    assert (await finish(web, started)).status_code == 200
    replayed = await finish(web, started)
    assert replayed.status_code == 400
    assert len(fake_slack.calls_to("oauth.v2.access")) == 2
    assert await _count(sessions, SlackInstallation) == 1


# ---------------------------------------------------------------------------------------------------------
# 2. Each workspace with its own token


async def test_queue_share_nudges_and_leaderboard_go_out_with_each_workspaces_token(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, settings: Settings, article: str
) -> None:
    await install(web, "UADMIN")
    await install(web, "UGADMIN", team=GLOBEX)
    acme_token, globex_token = fake_slack.install_of(TEAM).bot_token, fake_slack.install_of(GLOBEX).bot_token
    globex = globex_of(web)
    token_of = {"UADMIN": acme_token, "UEMP2": acme_token, "UEMP3": acme_token}
    token_of |= {"UGADMIN": globex_token, "UGEMP": globex_token, "UGEMP2": globex_token}

    # Each admin sets the channel and queues a post there.
    await web.command("UADMIN", "channel <#C0NEWS|news>")
    await globex.command("UGADMIN", "channel <#C0GNEWS|globex-news>")
    await web.command("UADMIN", f"queue <{article}/acme> Acme news")
    await globex.command("UGADMIN", f"queue <{article}/globex> Globex news")

    async def pushed() -> bool:
        return await _count(sessions, Delivery) == 2

    await eventually(pushed)
    posts = fake_slack.calls_to("chat.postMessage")
    assert {c.token for c in posts if c.params["channel"] == "C0NEWS"} == {acme_token}
    assert {c.token for c in posts if c.params["channel"] == "C0GNEWS"} == {globex_token}
    async with sessions() as session:
        acme_post, globex_post = (await session.scalars(select(Post).order_by(Post.id))).all()

    # A member of each shares their workspace's post, through their personal link.
    for slack, user, post, channel in (
        (web, "UEMP3", acme_post, "C0NEWS"),
        (globex, "UGEMP", globex_post, "C0GNEWS"),
    ):
        clicked = await slack.click(user, "share_linkedin", str(post.id), channel=channel)
        assert (await slack.responses(clicked.url_id))[0]["text"].startswith("Share on LinkedIn")
        opened = await slack.click(user, "open_share_linkedin", f"{post.id}:linkedin", channel=channel)
        assert (await slack.responses(opened.url_id))[0]["text"].startswith("Thanks!")
    async with sessions() as session:
        shares = (
            await session.execute(
                select(Workspace.external_id, Member.external_id, Share.post_id)
                .join(Member, Member.id == Share.member_id)
                .join(Workspace, Workspace.id == Share.workspace_id)
            )
        ).all()
    assert sorted(shares) == sorted([(TEAM, "UEMP3", acme_post.id), (GLOBEX, "UGEMP", globex_post.id)])

    # The leaderboards: each in its own channel, naming its own people, with its own token.
    assert (
        await jobs.run_job(clock_job(settings, sessions, BOARD_TIME), "leaderboard")
        != "0 leaderboard messages"
    )
    boards = [
        c for c in fake_slack.calls_to("chat.postMessage") if "leaderboard" in str(c.params.get("text"))
    ]
    acme_board = [c for c in boards if c.params["channel"] == "C0NEWS"]
    globex_board = [c for c in boards if c.params["channel"] == "C0GNEWS"]
    assert [c.token for c in acme_board] == [acme_token]
    assert [c.token for c in globex_board] == [globex_token]
    assert "UGEMP" not in str(acme_board[0].params)
    assert "Gus" not in str(acme_board[0].params)
    assert "UEMP3" not in str(globex_board[0].params)
    assert "Carla" not in str(globex_board[0].params)

    # Reminders to a member of each workspace, in London.
    await web.command("UEMP2", "me")
    await globex.command("UGEMP2", "me")
    await jobs.run_job(clock_job(settings, sessions, NUDGE_TIME), "nudges")
    nudged = {c.params["channel"]: c.token for c in fake_slack.calls_to("chat.postMessage")}
    assert nudged["UEMP2"] == acme_token
    assert nudged["UGEMP2"] == globex_token

    # Every call Relais made with a workspace's token concerned that workspace's people.
    for call in fake_slack.calls:
        person = call.params.get("user") or call.params.get("channel")
        if call.method in ("users.info", "chat.postMessage") and person in token_of:
            assert call.token == token_of[person], (call.method, person)
    assert fake_slack.calls_to("users.info")  # the directory was asked, in both workspaces
    assert not any(c.token == "xoxb-test-token" for c in fake_slack.calls)  # no SLACK_BOT_TOKEN anywhere


async def test_a_database_or_slack_failure_during_an_install_is_a_503_page(
    web: SlackDriver, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database failing to keep the state or to store the installation, or oauth.v2.access not
    answering: a page saying to try again (503), never a 500; nothing is stored."""

    async def database_down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, ConnectionError("database down"))

    async def slack_times_out(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError

    with monkeypatch.context() as patch:
        patch.setattr(Installs, "issue_state", database_down)
        page = await web.client.get("/slack/install", headers={"Accept-Language": "fr"})
    assert page.status_code == 503
    assert "Réessayez dans quelques minutes" in page.text
    for failing, replacement in ((Installs, database_down), (AsyncWebClient, slack_times_out)):
        started = await begin_install(web, "UADMIN")
        with monkeypatch.context() as patch:
            patch.setattr(failing, "save" if failing is Installs else "oauth_v2_access", replacement)
            back = await finish(web, started)
        assert back.status_code == 503
        assert "try again in a few minutes from https://relais.example.test/slack/install" in back.text
    assert await _none_left(sessions)
    assert (await install(web, "UADMIN")).status_code == 200  # once it is back


async def test_rotating_tokens_are_renewed_in_and_out_of_requests(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, settings: Settings, article: str
) -> None:
    """With token rotation on (12-hour tokens), a token about to expire is renewed through oauth.v2.access
    before it is used, by Bolt for a request and by the notifier for the outbox, and the renewal is stored
    encrypted. Here a token lasts a minute, so every use renews it."""
    fake_slack.token_lifetime = 60
    await install(web, "UADMIN")
    first = fake_slack.install_of(TEAM).bot_token
    await web.command("UADMIN", f"queue <{article}/acme> Acme news <#C0NEWS|news>")

    async def pushed() -> bool:
        return await _count(sessions, Delivery) == 1

    await eventually(pushed)
    await web.command("UEMP2", "me")
    await jobs.run_job(clock_job(settings, sessions, NUDGE_TIME), "nudges")

    renewals = [
        c for c in fake_slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"
    ]
    assert len(renewals) >= 3  # two requests, the push and the reminder
    renewed = {install.bot_token for install in fake_slack.installs.values()} - {first}
    used = [c.token for c in fake_slack.calls if c.method in ("users.info", "chat.postMessage")]
    assert used
    assert set(used) <= renewed  # never the expiring one
    assert any(c.params["channel"] == "UEMP2" for c in fake_slack.calls_to("chat.postMessage"))
    async with sessions() as session:
        (row,) = (await session.scalars(select(SlackInstallation))).all()
    latest = fake_slack.install_of(TEAM)
    assert settings.fernet.decrypt(row.bot_token_encrypted.encode()).decode() == latest.bot_token
    assert row.bot_refresh_token_encrypted is not None
    assert latest.refresh_token is not None
    assert latest.refresh_token not in row.bot_refresh_token_encrypted
    assert settings.fernet.decrypt(row.bot_refresh_token_encrypted.encode()).decode() == latest.refresh_token
    assert row.bot_token_expires_at is not None
    assert row.installer_user_id == "UADMIN"  # kept through the renewals


async def test_an_installation_is_read_once_in_a_while_not_for_every_request(
    web: SlackDriver, engine: AsyncEngine, clock: FrozenClock
) -> None:
    """Each request and each outbox message needs its workspace's installation: read once, kept
    `CACHE_TTL` (a database read and two decryptions each time otherwise)."""
    await install(web, "UADMIN")
    reads: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM slack_installation" in statement:
            reads.append(statement)

    sql_event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert (await web.command("UEMP2", "me"))["text"].startswith("*Your sharing*")
        assert len(reads) == 1
        clock.advance(CACHE_TTL)
        assert (await web.command("UEMP2", "me"))["text"].startswith("*Your sharing*")
        assert len(reads) == 2
    finally:
        sql_event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_requests_arriving_together_at_renewal_time_are_all_served(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, settings: Settings
) -> None:
    """A refresh token is used once: the requests that find the token expiring together wait for the
    first to renew it, then use the token it stored (none is told the app is not installed)."""
    fake_slack.token_lifetime = 60  # every use finds the token expiring
    await install(web, "UADMIN")
    for index in range(12):
        fake_slack.add_user(f"UCROWD{index:02}", real_name=f"Crowd {index}")
    replies = await asyncio.gather(*(web.command(f"UCROWD{index:02}", "me") for index in range(12)))
    assert [reply["text"].startswith("*Your sharing*") for reply in replies] == [True] * 12
    renewals = [
        c for c in fake_slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"
    ]
    assert 1 <= len(renewals) < 12
    async with sessions() as session:
        (row,) = (await session.scalars(select(SlackInstallation))).all()
    latest = fake_slack.install_of(TEAM)
    assert settings.fernet.decrypt(row.bot_token_encrypted.encode()).decode() == latest.bot_token
    assert await _count(sessions, Member, Member.external_id.like("UCROWD%")) == 12


# ---------------------------------------------------------------------------------------------------------
# 3. Uninstalled, then installed again


async def test_uninstall_stops_the_workspace_until_it_is_installed_again(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, settings: Settings, clock: FrozenClock
) -> None:
    await install(web, "UADMIN")
    await install(web, "UGADMIN", team=GLOBEX)
    globex = globex_of(web)
    await web.command("UEMP2", "me")
    await globex.command("UGEMP2", "me")
    acme, globex_row = await _workspace(sessions, TEAM), await _workspace(sessions, GLOBEX)
    assert acme is not None
    assert globex_row is not None
    async with sessions() as session:  # a message waiting in each workspace
        for workspace, user in ((acme, "UEMP2"), (globex_row, "UGEMP2")):
            await outbox.enqueue(
                session,
                workspace_id=workspace.id,
                kind="notice",
                destination=user,
                payload={"text": "hello"},
                now=clock.now() + timedelta(hours=1),
            )
        await session.commit()

    fake_slack.uninstall(GLOBEX)
    assert await globex.event({"type": "app_uninstalled"}, event_id="EvUNINSTALL") == 200
    assert await globex.event({"type": "app_uninstalled"}, event_id="EvUNINSTALL", retry=1) == 200

    async def stopped_row() -> bool:
        row = await _workspace(sessions, GLOBEX)
        return row is not None and row.uninstalled_at is not None

    await eventually(stopped_row)  # the event is handled after its ack
    await globex.settle()  # and its retry
    async with sessions() as session:
        assert (await session.scalars(select(SlackInstallation.team_id))).all() == [TEAM]
        states = dict(
            (
                await session.execute(
                    select(OutboxMessage.destination, OutboxMessage.state).where(
                        OutboxMessage.kind == "notice"
                    )
                )
            ).all()
        )
    assert states == {"UEMP2": OutboxState.PENDING, "UGEMP2": OutboxState.CANCELLED}
    stopped = await _workspace(sessions, GLOBEX)
    assert stopped is not None
    assert stopped.uninstalled_at == clock.now()
    assert (await _workspace(sessions, TEAM)).uninstalled_at is None  # type: ignore[union-attr]

    # Its people are told Relais is not installed; nothing runs for it, Acme's reminders go on.
    sent = await globex.send_command("UGEMP2", "me")
    assert sent.status == 200
    told = (await globex.responses(sent.url_id))[0]
    assert "Relais is not installed in this workspace" in told["text"]
    assert "Relais n'est pas installé" in told["text"]
    await jobs.run_job(clock_job(settings, sessions, NUDGE_TIME), "nudges")
    async with sessions() as session:
        nudges = (
            await session.execute(
                select(Workspace.external_id, func.count())
                .join(OutboxMessage, OutboxMessage.workspace_id == Workspace.id)
                .where(OutboxMessage.kind == "nudge")
                .group_by(Workspace.external_id)
            )
        ).all()
    assert dict(nudges).get(GLOBEX) is None

    # Installed again: served again.
    assert (await install(web, "UGADMIN", team=GLOBEX)).status_code == 200
    assert (await _workspace(sessions, GLOBEX)).uninstalled_at is None  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=11))  # Greta's profile is stale: Slack's directory is asked again
    reply = await globex.command("UGEMP2", "me")
    assert reply["text"].startswith("*Your sharing*")
    assert fake_slack.calls_to("users.info")[-1].token == fake_slack.install_of(GLOBEX).bot_token


async def test_a_late_uninstall_event_leaves_a_fresh_installation_alone(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Slack retries an event minutes later: one sent before the app was installed again stops nothing."""
    await install(web, "UGADMIN", team=GLOBEX)
    globex = globex_of(web)
    before = int((clock.now() - timedelta(minutes=5)).timestamp())
    for event in (
        {"type": "app_uninstalled"},
        {"type": "tokens_revoked", "tokens": {"bot": [fake_slack.install_of(GLOBEX).bot_user_id]}},
    ):
        assert await globex.event(event, event_id="EvLATE", retry=2, event_time=before) == 200
    await globex.settle()
    assert await _count(sessions, SlackInstallation) == 1
    assert (await _workspace(sessions, GLOBEX)).uninstalled_at is None  # type: ignore[union-attr]
    later = int((clock.now() + timedelta(minutes=1)).timestamp())
    assert await globex.event({"type": "app_uninstalled"}, event_id="EvNOW", event_time=later) == 200
    await eventually(lambda: _none_left(sessions))


async def test_an_interrupted_message_is_not_sent_blind_when_its_workspace_cannot_be_asked(
    web: SlackDriver, sessions: Sessions, settings: Settings, clock: FrozenClock
) -> None:
    """A DM whose send was interrupted is looked for before it goes again; with no usable installation
    the look is put off (not "not found", which would send it a second time)."""
    await install(web, "UADMIN")
    acme = await _workspace(sessions, TEAM)
    assert acme is not None
    async with sessions() as session:
        await session.execute(delete(SlackInstallation))  # lost (e.g. ENCRYPTION_KEY changed)
        await session.commit()
    notifier = SlackPlatform().notifier(settings, sessions, FrozenClock(clock.now() + CACHE_TTL))
    found = await notifier.find_delivered(  # type: ignore[attr-defined]
        kind="notice", destination="UEMP2", payload={"text": "hello"}, workspace_id=acme.id
    )
    assert found is not None
    assert (found.ok, found.error) == (False, "token_revoked")
    assert (found.retry_after or 0) > 0


async def test_an_unreadable_installation_is_logged_as_an_error_not_only_told_not_installed(
    web: SlackDriver,
    sessions: Sessions,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bolt logs a failing look-up at INFO and tells the person the app is not installed: the database
    failing, or a token no key decrypts (ENCRYPTION_KEY changed), is logged as an error."""
    await install(web, "UADMIN")

    async def database_down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, ConnectionError("database down"))

    with monkeypatch.context() as patch:
        patch.setattr(Installs, "find", database_down)
        sent = await web.send_command("UEMP2", "me")
        assert "Relais is not installed" in (await web.responses(sent.url_id))[0]["text"]
    assert any(r.levelname == "ERROR" and "could not be read" in r.getMessage() for r in caplog.records)
    other = Fernet(Fernet.generate_key())
    async with sessions() as session:
        await session.execute(
            update(SlackInstallation).values(bot_token_encrypted=other.encrypt(b"xoxb-x").decode())
        )
        await session.commit()
    clock.advance(CACHE_TTL)
    sent = await web.send_command("UEMP2", "me")
    assert "Relais is not installed" in (await web.responses(sent.url_id))[0]["text"]
    assert any(r.levelname == "ERROR" and "ENCRYPTION_KEY" in r.getMessage() for r in caplog.records)


async def test_an_uninstalled_workspace_publishes_nothing_and_signs_no_one_in(
    web: SlackDriver,
    sessions: Sessions,
    fake_slack: FakeSlack,
    settings: Settings,
    clock: FrozenClock,
    article: str,
) -> None:
    """Its scheduled posts wait (not published into a workspace Relais cannot reach, nor flushed weeks
    later), and its people cannot sign in to the web pages, until the app is installed again."""
    await install(web, "UGADMIN", team=GLOBEX)
    globex = globex_of(web)
    at = int((clock.now() + timedelta(hours=1)).timestamp())
    form = queue_form(f"{article}/later", "Later", channels=("C0GNEWS",), publish_at=at)
    assert (await globex.submit("UGADMIN", "queue_modal", form)).text == ""
    await eventually(lambda: _posts_in(sessions, GLOBEX, 1))
    fake_slack.uninstall(GLOBEX)
    assert await globex.event({"type": "app_uninstalled"}, event_id="EvGONE") == 200
    await eventually(lambda: _none_left(sessions))

    await jobs.run_job(clock_job(settings, sessions, clock.now() + timedelta(hours=2)), "publish")
    async with sessions() as session:
        (post,) = (await session.scalars(select(Post))).all()
    assert post.state == PostState.SCHEDULED
    assert not any(c.params.get("channel") == "C0GNEWS" for c in fake_slack.calls_to("chat.postMessage"))

    site = Site(Browser(web.client), fake_slack, clock, sessions)
    authorize = await site.to_slack()
    fake_slack.sign_in_as("UGEMP", team_id=GLOBEX)
    refused = await site.browser.get(await site.consent(authorize))
    assert refused.status_code == 403
    assert await _count(sessions, WebSession) == 0


async def test_revoked_bot_tokens_stop_the_workspace(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    await install(web, "UADMIN")
    event = {"type": "tokens_revoked", "tokens": {"oauth": ["UADMIN"]}}
    assert await web.event(event, event_id="EvUSERS") == 200  # only user tokens: nothing of Relais's
    await web.settle()
    assert await _count(sessions, SlackInstallation) == 1
    event = {"type": "tokens_revoked", "tokens": {"bot": [fake_slack.install_of(TEAM).bot_user_id]}}
    assert await web.event(event, event_id="EvBOT") == 200
    await eventually(lambda: _none_left(sessions))
    assert (await _workspace(sessions, TEAM)).uninstalled_at == clock.now()  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------------
# 4. A request that names another workspace's rows


async def test_requests_naming_another_workspaces_rows_read_and_change_nothing(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, article: str
) -> None:
    await install(web, "UADMIN")
    await install(web, "UGADMIN", team=GLOBEX)
    globex = globex_of(web)
    await web.command("UADMIN", f"queue <{article}/acme> Acme news <#C0NEWS|news>")
    await globex.command("UGADMIN", f"queue <{article}/globex> Globex news <#C0GNEWS|globex-news>")
    async with sessions() as session:
        acme_post, globex_post = (await session.scalars(select(Post).order_by(Post.id))).all()

    for intruder, user, admin, other in (
        (globex, "UGEMP", "UGADMIN", acme_post),
        (web, "UEMP2", "UADMIN", globex_post),
    ):
        # Signed correctly by Slack, naming the intruder's own team, with the other workspace's post.
        for action, value in (
            ("share_linkedin", str(other.id)),
            ("open_share_linkedin", f"{other.id}:linkedin"),
            ("not_for_me", str(other.id)),
        ):
            clicked = await intruder.click(user, action, value)
            assert clicked.status == 200
            answer = (await intruder.responses(clicked.url_id))[0]
            assert "no longer available" in answer["text"] or "no post" in answer["text"], answer
        cancel = await intruder.command(admin, f"cancel {other.id}")
        assert cancel["text"] == f"There is no post #{other.id} here (see `/relais list`)."
        stats = await intruder.command(admin, "stats")
        assert other.url not in str(stats)
    # The other workspace's channel, named with this workspace's token: Slack knows no such channel.
    refused = await web.command("UADMIN", f"queue <{article}/into> Into <#C0GNEWS|globex-news>")
    assert "#globex-news" in refused["text"], refused
    assert await _count(sessions, Post) == 2
    assert await _count(sessions, Share) == 0
    assert await _count(sessions, TrackedLink) == 0
    assert await _count(sessions, Dismissal) == 0
    assert await _count(sessions, Post, Post.state == PostState.CANCELLED) == 0

    # Another workspace's member id, named in Globex: a stranger there, Acme's member untouched.
    await web.command("UEMP2", "lang fr")
    reply = await globex.command("UEMP2", "me")
    assert reply["text"].startswith("*Your sharing*")  # Globex's UEMP2 never chose French
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Workspace.external_id, Member.language)
                .join(Workspace, Workspace.id == Member.workspace_id)
                .where(Member.external_id == "UEMP2")
            )
        ).all()
    assert sorted(rows, key=lambda r: r[0]) == [(TEAM, "fr"), (GLOBEX, None)]

    # A team that never installed Relais (forged, or left over): told so, nothing recorded.
    stranger = SlackDriver(web.client, fake_slack, team="T0FORGED")
    sent = await stranger.send_command("UEMP2", "me")
    assert sent.status == 200
    assert "Relais is not installed" in (await stranger.responses(sent.url_id))[0]["text"]
    clicked = await stranger.click("UEMP2", "share_linkedin", str(acme_post.id))
    assert clicked.status == 200
    assert await _workspace(sessions, "T0FORGED") is None
    assert await _count(sessions, Share) == 0


async def test_a_request_authorized_for_one_workspace_acts_in_no_other(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, article: str, clock: FrozenClock
) -> None:
    """Bolt finds the installation by what Slack authorized (a modal's `view.app_installed_team_id`, an
    org-wide installation's organisation); the workspace acted on is that one, or must be of that
    organisation: a modal of Globex's installation submitted from another workspace (Slack Connect: its
    `team` is the user's own) acts in Globex, never in the workspace it names, and a request through an
    organisation's installation from a team of none or of another organisation is refused."""
    await install(web, "UADMIN")
    await install(web, "UGADMIN", team=GLOBEX)
    form = queue_form(f"{article}/x", "Caption", channels=("C0GNEWS",))
    for team in (TEAM, "T0FORGED"):
        slack = SlackDriver(web.client, fake_slack, team=team)
        answered = await slack.submit("UADMIN", "queue_modal", form, installed_team=GLOBEX)
        assert answered.status_code == 200
    await web.settle()
    assert await _posts_in(sessions, TEAM, 0)  # whoever submitted it, it was Globex's form
    assert await _workspace(sessions, "T0FORGED") is None
    before = await _count(sessions, Post)  # Globex's, if Globex's directory made UADMIN an admin there
    served = await globex_of(web).submit("UGADMIN", "queue_modal", form, installed_team=GLOBEX)
    assert served.text == ""
    await eventually(lambda: _posts_in(sessions, GLOBEX, before + 1))

    # Enterprise Grid: Initech's installation serves Initech's teams only.
    fake_slack.add_team("T0EAST", "Initech East", enterprise_id="E0001", enterprise_name="Initech")
    await install(web, "UADMIN", enterprise="E0001")
    async with sessions() as session:  # a team known to belong to another organisation
        session.add(
            Workspace(
                platform="slack",
                external_id="T0UMBRELLA",
                name="Umbrella",
                enterprise_id="E0009",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        await session.commit()
    for team, org_wide in ((TEAM, True), ("T0UMBRELLA", True), ("T0UMBRELLA", False)):
        slack = SlackDriver(web.client, fake_slack, team=team, enterprise="E0001", org_install=org_wide)
        sent = await slack.send_command("UEMP2", "me")
        assert sent.status == 200
        assert "Relais is not installed" in (await slack.responses(sent.url_id))[0]["text"]
    assert (await _workspace(sessions, TEAM)).enterprise_id is None  # type: ignore[union-attr]
    assert (await _workspace(sessions, "T0UMBRELLA")).enterprise_id == "E0009"  # type: ignore[union-attr]
    east = SlackDriver(web.client, fake_slack, team="T0EAST", enterprise="E0001", org_install=True)
    assert (await east.command("UEMP2", "me"))["text"].startswith("*Your sharing*")


async def _posts_in(sessions: Sessions, team: str, count: int) -> bool:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Post)
            .join(Workspace, Workspace.id == Post.workspace_id)
            .where(Workspace.external_id == team)
        )
    return found == count


async def test_people_of_an_installed_workspace_sign_in_to_the_web_pages(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Sign in with Slack (the way to connect LinkedIn or X) lets in people of the workspaces Relais is
    installed in, and no one else."""
    await install(web, "UGADMIN", team=GLOBEX)
    site = Site(Browser(web.client), fake_slack, clock, sessions)
    authorize = await site.to_slack()
    fake_slack.sign_in_as("UGEMP", team_id=GLOBEX)
    signed_in = await site.browser.get(await site.consent(authorize))
    assert signed_in.status_code == 303
    assert site.browser.cookie("relais_session") is not None
    assert (await site.browser.get("/me")).status_code == 200

    stranger = Site(Browser(web.client), fake_slack, clock, sessions)
    authorize = await stranger.to_slack()
    fake_slack.sign_in_as("UEMP1", team_id="T0OTHER")
    refused = await stranger.browser.get(await stranger.consent(authorize))
    assert refused.status_code == 403
    assert stranger.browser.cookie("relais_session") is None
    assert await _workspace(sessions, "T0OTHER") is None
    assert await _count(sessions, WebSession) == 1


# ---------------------------------------------------------------------------------------------------------
# 5. Enterprise Grid


async def test_an_org_wide_installation_serves_the_orgs_workspaces(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_team("T0EAST", "Initech East", enterprise_id="E0001", enterprise_name="Initech")
    fake_slack.add_team("T0WEST", "Initech West", enterprise_id="E0001", enterprise_name="Initech")
    installed = await install(web, "UADMIN", enterprise="E0001")
    assert installed.status_code == 200
    assert "Relais is installed in Initech." in installed.text
    async with sessions() as session:
        (row,) = (await session.scalars(select(SlackInstallation))).all()
    assert (row.enterprise_id, row.team_id, row.is_enterprise_install) == ("E0001", None, True)
    assert row.enterprise_name == "Initech"
    org_token = fake_slack.install_of(enterprise_id="E0001").bot_token

    for team in ("T0EAST", "T0WEST"):
        slack = SlackDriver(web.client, fake_slack, team=team, enterprise="E0001", org_install=True)
        reply = await slack.command("UEMP2", "me")
        assert reply["text"].startswith("*Your sharing*")
        workspace = await _workspace(sessions, team)
        assert workspace is not None
        assert (workspace.enterprise_id, workspace.uninstalled_at) == ("E0001", None)
    assert {c.token for c in fake_slack.calls_to("users.info")} == {org_token}

    # Uninstalled from the organisation: both of its workspaces stop.
    fake_slack.uninstall(enterprise_id="E0001")
    east = SlackDriver(web.client, fake_slack, team="T0EAST", enterprise="E0001", org_install=True)
    assert await east.event({"type": "app_uninstalled"}, event_id="EvORG") == 200
    await eventually(lambda: _none_left(sessions))  # the event is handled after its ack
    for team in ("T0EAST", "T0WEST"):
        assert (await _workspace(sessions, team)).uninstalled_at is not None  # type: ignore[union-attr]


async def test_an_org_installation_losing_or_gaining_a_workspace_stops_or_serves_it(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Enterprise Grid: `team_access_revoked` stops the named workspaces as an uninstall does (pending
    messages cancelled, requests refused), `team_access_granted` serves them again."""
    for team, name in (("T0EAST", "Initech East"), ("T0WEST", "Initech West")):
        fake_slack.add_team(team, name, enterprise_id="E0001", enterprise_name="Initech")
    await install(web, "UADMIN", enterprise="E0001")
    east, west = (
        SlackDriver(web.client, fake_slack, team=team, enterprise="E0001", org_install=True)
        for team in ("T0EAST", "T0WEST")
    )
    for slack in (east, west):
        assert (await slack.command("UEMP2", "me"))["text"].startswith("*Your sharing*")
    west_row = await _workspace(sessions, "T0WEST")
    assert west_row is not None
    async with sessions() as session:
        await outbox.enqueue(
            session,
            workspace_id=west_row.id,
            kind="notice",
            destination="UEMP2",
            payload={"text": "hello"},
            now=clock.now() + timedelta(hours=1),
        )
        await session.commit()

    revoked = {"type": "team_access_revoked", "team_ids": ["T0WEST"]}
    assert await east.event(revoked, event_id="EvREVOKED") == 200

    async def west_stopped() -> bool:
        row = await _workspace(sessions, "T0WEST")
        return row is not None and row.uninstalled_at is not None

    await eventually(west_stopped)
    assert (await _workspace(sessions, "T0EAST")).uninstalled_at is None  # type: ignore[union-attr]
    assert await _count(sessions, OutboxMessage, OutboxMessage.state == OutboxState.CANCELLED) == 1
    sent = await west.send_command("UEMP2", "me")
    assert "Relais is not installed" in (await west.responses(sent.url_id))[0]["text"]
    assert await _count(sessions, SlackInstallation) == 1  # the organisation's, still serving the east

    granted = {"type": "team_access_granted", "team_ids": ["T0WEST"]}
    assert await east.event(granted, event_id="EvGRANTED") == 200

    async def west_served() -> bool:
        row = await _workspace(sessions, "T0WEST")
        return row is not None and row.uninstalled_at is None

    await eventually(west_served)
    assert (await west.command("UEMP2", "me"))["text"].startswith("*Your sharing*")


async def test_erasing_an_installer_touches_only_their_workspaces_installation(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    """`forget_installer` (erasure) un-names the member on the installation serving their workspace, not on
    another organisation's where the same id installed the app."""
    fake_slack.add_team("T0EAST", "Initech East", enterprise_id="E0001", enterprise_name="Initech")
    await install(web, "UADMIN")
    await install(web, "UADMIN", enterprise="E0001")
    async with sessions() as session:
        await installs_service.forget_installer(session, team_id=TEAM, user_id="UADMIN")
        await session.commit()
        rows = dict(
            (await session.execute(select(SlackInstallation.key, SlackInstallation.installer_user_id))).all()
        )
    assert rows == {f"-:{TEAM}": None, "E0001:-": "UADMIN"}


async def test_the_installer_s_forget_me_leaves_their_id_nowhere_and_the_workspace_installed(
    web: SlackDriver, sessions: Sessions
) -> None:
    """The admin who installed Relais erases their data: the installation stays (the workspace is still
    served) but no longer names them, and no table holds their id."""
    await install(web, "UADMIN")
    asked = await web.command("UADMIN", "forget-me")
    [confirm] = [
        element
        for block in asked["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "forget_me_confirm"
    ]
    clicked = await web.click(
        "UADMIN", "forget_me_confirm", confirm["value"], channel="C0GENERAL", ephemeral=True
    )
    [done] = await web.responses(clicked.url_id)
    assert done["text"].startswith("Your data is erased.")
    async with sessions() as session:
        installers = (await session.scalars(select(SlackInstallation.installer_user_id))).all()
    assert installers == [None]
    assert await leftovers(sessions, ["UADMIN"]) == []
    assert (await web.command("UEMP2", "me"))["text"].startswith("*Your sharing*")


# ---------------------------------------------------------------------------------------------------------
# Hostile input


@fuzz(
    max_examples=150,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    derandomize=True,
)
@given(
    path=st.sampled_from(["/slack/install", "/slack/oauth_redirect"]),
    query=st.dictionaries(st.sampled_from(["state", "code", "error", "team"]), nasty_text),
    cookie=nasty_text,
)
async def test_the_install_pages_answer_any_query_without_5xx_and_install_nothing(
    web: SlackDriver, sessions: Sessions, path: str, query: dict[str, str], cookie: str
) -> None:
    calls = len(web.fake.calls_to("oauth.v2.access"))
    response = await web.client.get(
        path, params=query, headers={b"Cookie": header_value(f"slack-app-oauth-state={quote(cookie)}")}
    )
    assert_no_server_error(response)
    assert response.status_code in (200, 400)
    assert len(web.fake.calls_to("oauth.v2.access")) == calls  # no state of theirs was ever issued
    assert await _count(sessions, SlackInstallation) == 0
