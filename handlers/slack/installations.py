"""Slack OAuth v2 installs: slack_sdk's installation and state stores on Relais's own database
(`bot.services.installs`: tokens Fernet-encrypted, not slack_sdk's SQLAlchemy stores, which keep tokens
in clear in tables of their own), Bolt's OAuth settings for `GET /slack/install` and
`GET /slack/oauth_redirect`, their pages, and each workspace's Web API client for what is sent outside a
request (the outbox).

Bolt's `AsyncOAuthFlow` issues the `state` (kept here, single use, 10 minutes), binds it to the browser
with its cookie, checks both on the way back, exchanges the code with `oauth.v2.access` and hands the
installation to `RelaisInstallationStore.async_save`; Bolt's authorize then finds each request's bot
token with `async_find_bot` (an Enterprise Grid organisation's installation serving all its workspaces).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.db import Sessions
from bot.i18n import Language, language_for, t
from bot.services.installs import STATE_TTL, Install, Installs
from bot.web_pages import HEADERS, escape

logger = logging.getLogger(__name__)

INSTALL_PATH: Final = "/slack/install"
# A rotating bot token (12 hours) is renewed when it expires within this (Bolt's default).
ROTATE_MINUTES: Final = 120
ROTATE_TIMEOUT_SECONDS: Final = 10
REDIRECT_PATH: Final = "/slack/oauth_redirect"
# The bot scopes an install asks for: those of docs/slack-app-manifest.json (tests/test_repository.py keeps
# them equal).
BOT_SCOPES: Final = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "im:history",
    "files:write",
    "users:read",
    "channels:read",
    "groups:read",
)


def installs_of(settings: Settings, sessions: Sessions, now: Callable[[], datetime]) -> Installs:
    """The installations, on the core's sessions and clock (SLACK_STATE_SECRET set: `require_slack` made
    sure ENCRYPTION_KEY is too)."""
    assert settings.slack_state_secret is not None
    return Installs(
        sessions,
        cipher=settings.fernet,
        state_secret=settings.slack_state_secret.get_secret_value().encode(),
        now=now,
    )


class RelaisInstallationStore(AsyncInstallationStore):
    """Bot installations only (Relais asks no user scope): Bolt is built with
    `installation_store_bot_only=True` and looks bots up with `async_find_bot`."""

    def __init__(self, installs: Installs) -> None:
        self._installs = installs

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_save(self, installation: Installation) -> None:
        """The install flow's end: the installation, with who installed it."""
        bot = installation.to_bot()
        await self._installs.save(_install(bot, installer=installation.user_id or None, installed_at=None))

    async def async_save_bot(self, bot: Bot) -> None:
        """Also called by Bolt's token rotation with the renewed token (the installer is kept); nothing to
        store when it is the token already stored (renewed meanwhile by another request:
        `RelaisTokenRotator`)."""
        org_wide = bool(bot.is_enterprise_install)
        found = await self._installs.find(
            enterprise_id=bot.enterprise_id, team_id=bot.team_id, is_enterprise_install=org_wide, fresh=True
        )
        same = found if found is not None and found.team_id == (None if org_wide else bot.team_id) else None
        if same is not None and same.bot_token == bot.bot_token:
            return
        installer, installed_at = (same.installer_user_id, same.installed_at) if same else (None, None)
        await self._installs.save(_install(bot, installer=installer, installed_at=installed_at))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        """Each request's bot (kept a while: `Installs.find`), its refresh token decrypted only when the
        token is about to be renewed. A failure is logged here: Bolt would log it at INFO only and tell
        the person the app is not installed."""
        try:
            found = await self._installs.find(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=bool(is_enterprise_install),
            )
        except Exception:
            logger.exception(
                "the Slack installation of team %s (enterprise %s) could not be read", team_id, enterprise_id
            )
            raise
        if found is None:
            return None
        refresh = self._installs.refresh_token(found) if _expiring(found) else None
        return _bot(found, refresh=refresh)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await self._installs.find(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=bool(is_enterprise_install)
        )
        if found is None:
            return None
        bot = _bot(found, refresh=self._installs.refresh_token(found))
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            enterprise_name=bot.enterprise_name,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id=found.installer_user_id or "",
            is_enterprise_install=bot.is_enterprise_install,
            installed_at=bot.installed_at,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        org_wide = team_id is None and enterprise_id is not None
        await self._installs.uninstall(enterprise_id=enterprise_id, team_id=team_id, org_wide=org_wide)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """No user tokens are kept: the bot's installation goes with `async_delete_bot`."""


class RelaisStateStore(AsyncOAuthStateStore):
    """The install flow's `state`: issued by the install page, consumed once by the redirect."""

    def __init__(self, installs: Installs) -> None:
        self._installs = installs

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        return await self._installs.issue_state()

    async def async_consume(self, state: str) -> bool:
        return await self._installs.consume_state(state)


def oauth_settings(settings: Settings, installs: Installs) -> AsyncOAuthSettings:
    """Bolt's OAuth flow on Relais's stores and pages. The redirect URL is PUBLIC_URL's (as the app's
    manifest lists it); the install page shows Bolt's "Add to Slack" button and sets the state cookie."""
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    store = RelaisInstallationStore(installs)
    settings_ = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.base_url + REDIRECT_PATH,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=settings.slack_authorize_url,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=RelaisStateStore(installs),
        state_expiration_seconds=int(STATE_TTL.total_seconds()),
        callback_options=AsyncCallbackOptions(success=_installed_page, failure=_failed_page),
        logger=logger,
    )
    if isinstance(settings_.authorize, AsyncInstallationStoreAuthorize):
        # Bolt asks auth.test for each request's token unless it keeps the answer: kept by token, and
        # looked up only after the installation was found (an uninstalled workspace's is never used).
        settings_.authorize.cache_enabled = True
        # Rotating tokens are renewed through SLACK_API_URL, as every other call (Bolt's own rotator
        # would call slack.com whatever the settings say).
        settings_.authorize.token_rotator = token_rotator(
            settings,
            AsyncWebClient(base_url=settings.slack_api_url, timeout=ROTATE_TIMEOUT_SECONDS),
            installs,
        )
    return settings_


class RelaisOAuthFlow(AsyncOAuthFlow):
    """Bolt's flow with Relais's install page: in the browser's language, one "Add to Slack" link (the
    authorize URL with its state), no image or script fetched from elsewhere."""

    async def handle_installation(self, request: AsyncBoltRequest) -> BoltResponse:
        """The install page; the database failing to keep its `state`: 503 (try again), never a 500."""
        try:
            return await super().handle_installation(request)
        except Exception:
            logger.exception("the Slack install page could not be served")
            return _unavailable(request, self.settings)

    async def handle_callback(self, request: AsyncBoltRequest) -> BoltResponse:
        """The redirect back from Slack; oauth.v2.access failing to answer (timeout, connection) or the
        database failing to check the state or store the installation: 503 (try again), never a 500."""
        try:
            return await super().handle_callback(request)
        except Exception:
            logger.exception("the Slack installation could not be completed")
            return _unavailable(request, self.settings)

    async def build_install_page_html(self, url: str, request: AsyncBoltRequest) -> str:
        lang = _language(request)
        title = t(lang, "install_title")
        return f"""<!doctype html><html lang="{escape(lang)}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relais — {escape(title)}</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto;padding:0 1em">
<h1>{escape(title)}</h1><p>{escape(t(lang, "install_intro"))}</p>
<p><a href="{escape(url)}">{escape(t(lang, "install_button"))}</a></p></body></html>"""


def not_installed_message() -> str:
    """What a person of a workspace Relais is not installed in is told (their language is unknown)."""
    return "\n".join(t(lang, "install_not_installed") for lang in ("en", "fr"))


async def _installed_page(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    lang = _language(args.request)
    name = installation.team_name or installation.enterprise_name or installation.team_id or ""
    return _page(lang, t(lang, "install_done_title"), t(lang, "install_done", workspace=name), 200)


async def _failed_page(args: AsyncFailureArgs) -> BoltResponse:
    """A refusal says what to do (install again from the start); the reason goes to the log only. A
    forged, expired or reused state, a browser without the state cookie, a code Slack refuses: 400
    (nothing is stored); the database failing to store it: 503 (try again)."""
    lang = _language(args.request)
    logger.warning("Slack install refused: %s (%r)", args.reason, args.error)
    if args.reason == "storage_error":
        return _unavailable(args.request, args.settings)
    key = "install_cancelled" if args.reason == "access_denied" else "install_failed"
    status = 400
    install = (args.settings.redirect_uri or REDIRECT_PATH).removesuffix(REDIRECT_PATH) + INSTALL_PATH
    return _page(lang, t(lang, "install_failed_title"), t(lang, key, install=install), status)


def _unavailable(request: AsyncBoltRequest, settings: AsyncOAuthSettings) -> BoltResponse:
    lang = _language(request)
    install = (settings.redirect_uri or REDIRECT_PATH).removesuffix(REDIRECT_PATH) + INSTALL_PATH
    return _page(lang, t(lang, "install_failed_title"), t(lang, "install_unavailable", install=install), 503)


def _language(request: AsyncBoltRequest) -> Language:
    for values in (request.headers.get("accept-language") or [""])[:1]:
        for part in values.split(","):
            tag = part.split(";", 1)[0].strip()
            if tag and tag != "*" and language_for(locale=tag) == tag.split("-", 1)[0].lower():
                return language_for(locale=tag)
    return "en"


def _page(lang: str, title: str, message: str, status: int) -> BoltResponse:
    body = f"""<!doctype html><html lang="{escape(lang)}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relais — {escape(title)}</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto;padding:0 1em">
<h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"""
    headers: dict[str, str | Sequence[str]] = {**HEADERS, "Content-Type": "text/html; charset=utf-8"}
    return BoltResponse(status=status, body=body, headers=headers)


def _install(bot: Bot, *, installer: str | None, installed_at: datetime | None) -> Install:
    expires = bot.bot_token_expires_at
    return Install(
        enterprise_id=bot.enterprise_id,
        enterprise_name=bot.enterprise_name,
        team_id=bot.team_id,
        team_name=bot.team_name,
        is_enterprise_install=bool(bot.is_enterprise_install),
        app_id=bot.app_id,
        bot_id=bot.bot_id,
        bot_user_id=bot.bot_user_id,
        bot_scopes=",".join(bot.bot_scopes or []),
        bot_token=bot.bot_token,
        bot_refresh_token=bot.bot_refresh_token,
        # Slack's own (real) time: when Slack stops taking the token.
        bot_token_expires_at=datetime.fromtimestamp(expires, UTC) if expires is not None else None,
        installer_user_id=installer,
        installed_at=installed_at,
    )


def _expiring(found: Install) -> bool:
    """A rotating token that Bolt's rotator would renew now (Slack's real time, as the rotator reads it)."""
    expires = found.bot_token_expires_at
    return (
        found.rotating
        and expires is not None
        and expires <= datetime.now(UTC) + timedelta(minutes=ROTATE_MINUTES)
    )


def _bot(found: Install, *, refresh: str | None) -> Bot:
    return Bot(
        app_id=found.app_id,
        enterprise_id=found.enterprise_id,
        enterprise_name=found.enterprise_name,
        team_id=found.team_id,
        team_name=found.team_name,
        bot_token=found.bot_token,
        bot_id=found.bot_id,
        bot_user_id=found.bot_user_id,
        bot_scopes=found.bot_scopes,
        bot_refresh_token=refresh,
        bot_token_expires_at=found.bot_token_expires_at,
        is_enterprise_install=found.is_enterprise_install,
        installed_at=found.installed_at or datetime.now(UTC),  # always set on a stored row
    )


def token_rotator(settings: Settings, client: AsyncWebClient, installs: Installs) -> RelaisTokenRotator:
    """Renews a rotating bot token (the app's "token rotation": 12-hour tokens) through `client`'s Web API
    (SLACK_API_URL), with the app's client id and secret."""
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    return RelaisTokenRotator(
        installs,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        client=client,
    )


class RelaisTokenRotator(AsyncTokenRotator):
    """slack_sdk's rotator, one renewal at a time per installation: a refresh token is used once, so
    the requests and messages that find the token expiring together wait for the first to renew it and
    then use what it stored; one that loses the race with another process (`invalid_refresh_token`) uses
    the token that process stored."""

    def __init__(self, installs: Installs, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._installs = installs

    async def perform_bot_token_rotation(
        self, *, bot: Bot, minutes_before_expiration: int = 120
    ) -> Bot | None:
        expires = bot.bot_token_expires_at
        if expires is None or expires > time.time() + minutes_before_expiration * 60:
            return None
        org_wide = bool(bot.is_enterprise_install)

        async def stored() -> Install | None:
            return await self._installs.find(
                enterprise_id=bot.enterprise_id,
                team_id=bot.team_id,
                is_enterprise_install=org_wide,
                fresh=True,
            )

        latest = await stored()
        if latest is None:
            return None  # uninstalled meanwhile: the next request is told so
        async with self._installs.renewing(latest):
            latest = await stored()
            if latest is None:
                return None
            if latest.bot_token != bot.bot_token:  # renewed meanwhile
                return _bot(latest, refresh=None)
            try:
                renewed = await super().perform_bot_token_rotation(
                    bot=_bot(latest, refresh=self._installs.refresh_token(latest)),
                    minutes_before_expiration=minutes_before_expiration,
                )
                if renewed is not None:  # stored before the next waiter reads it
                    await RelaisInstallationStore(self._installs).async_save_bot(renewed)
                return renewed
            except SlackTokenRotationError as error:
                if error.api_error.response.get("error") != "invalid_refresh_token":
                    raise
                other = await stored()
                if other is None or other.bot_token == bot.bot_token:
                    raise
                return _bot(other, refresh=None)  # renewed by another process


class WorkspaceClients:
    """Each workspace's Web API client for what is sent outside a request (the outbox): its installation's
    bot token, on the base client's URL, session, timeout and retries. None when the app is no longer
    installed there, or its rotating token could not be renewed. A rotating token that expires within
    `ROTATE_MINUTES` is renewed first (as Bolt's authorize does for requests) and the renewal stored."""

    def __init__(self, installs: Installs, base: AsyncWebClient, *, rotator: RelaisTokenRotator) -> None:
        self._installs = installs
        self._base = base
        self._rotator = rotator

    async def for_workspace(self, workspace_id: int) -> AsyncWebClient | None:
        found = await self._installs.for_workspace(workspace_id)
        if found is None:
            return None
        token = found.bot_token
        if _expiring(found):
            try:
                renewed = await self._rotator.perform_bot_token_rotation(
                    bot=_bot(found, refresh=None), minutes_before_expiration=ROTATE_MINUTES
                )
            except SlackTokenRotationError:
                logger.warning("could not renew the bot token of workspace %s", workspace_id)
                return None
            if renewed is not None:
                await RelaisInstallationStore(self._installs).async_save_bot(renewed)
                token = renewed.bot_token
        base = self._base
        return type(base)(
            token=token,
            base_url=base.base_url,
            timeout=base.timeout,
            ssl=base.ssl,
            proxy=base.proxy,
            session=base.session,
            retry_handlers=base.retry_handlers,
            logger=base.logger,
        )
