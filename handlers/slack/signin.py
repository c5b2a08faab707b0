"""Sign in with Slack (OpenID Connect), the Slack side of `bot.signin`.

Slack's authorize page (`SLACK_OIDC_AUTHORIZE_URL`) sends the browser back with a code; slack_sdk's
`openid.connect.token` exchanges it (client id and secret) for a user token and an ID token, and
`openid.connect.userInfo` names the person with Slack's claims (`https://slack.com/team_id`,
`https://slack.com/user_id`, `name`, `locale`). Both calls go through `SLACK_API_URL`. The core then
asks the Slack directory (users.info with the bot token, `directory()`) for the person's profile and
admin flag, as it does for a chat command.

The ID token comes straight from Slack's token endpoint over TLS, so its signature is not checked
(OpenID Connect Core 3.1.3.7 allows it); its audience must be our client id and its nonce the one this
sign-in sent. A person is accepted only from the workspace the bot token belongs to (`auth.test`): the
one workspace this Relais serves on Slack. With installs (SLACK_STATE_SECRET: many workspaces, no one
bot token), a person is accepted from any workspace Relais already serves (`Identity.workspace_checked`
False: the core lets in only a workspace it knows, created when the app was installed there).

PKCE (RFC 7636, S256): the authorize request carries `code_challenge` and `code_challenge_method`, and
`openid.connect.token` the `code_verifier`; Slack's reference for that method lists `code_verifier`
("required when the authorization request included a `code_challenge`"). An authorization server that
did not know the parameters would ignore them (RFC 6749 §3.1), so sending them costs nothing either way.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import urlencode

import jwt
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.services.web_sessions import same_secret
from bot.signin import PKCE_METHOD, Identity, SignInFailed
from handlers.slack.directory import SlackDirectory

logger = logging.getLogger(__name__)

# slack_sdk logs whole responses at DEBUG, and these carry tokens: its logger here never goes below INFO.
_api_logger = logging.getLogger(__name__ + ".api")
_api_logger.setLevel(logging.INFO)

SCOPES: Final = "openid profile"
ISSUER: Final = "https://slack.com"
TEAM_CLAIM: Final = "https://slack.com/team_id"
USER_CLAIM: Final = "https://slack.com/user_id"
TIMEOUT_SECONDS: Final = 10


class SlackSignIn:
    """`bot.signin.SignInProvider` for Slack."""

    name = "slack"
    label = "Slack"

    def __init__(self, settings: Settings) -> None:
        assert settings.slack_client_id is not None
        assert settings.slack_client_secret is not None
        self._settings = settings
        self._client_id = settings.slack_client_id
        self._client_secret = settings.slack_client_secret
        self._bot_token = settings.slack_bot_token
        self._home_team: str | None = None

    def _client(self, token: str | None = None) -> AsyncWebClient:
        return AsyncWebClient(
            token=token, base_url=self._settings.slack_api_url, timeout=TIMEOUT_SECONDS, logger=_api_logger
        )

    def directory(self) -> SlackDirectory:
        """`bot.signin.KnowsDirectory`: users.info with the bot token, as the chat commands ask it (asked
        only for a workspace this provider checked: never with installs, which have no one bot token)."""
        assert self._bot_token is not None
        return SlackDirectory(self._client(self._bot_token.get_secret_value()))

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "scope": SCOPES,
            "client_id": self._client_id,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": PKCE_METHOD,
            "redirect_uri": redirect_uri,
        }
        return f"{self._settings.slack_oidc_authorize_url}?{urlencode(query)}"

    async def identify(self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Identity:
        try:
            tokens = await self._client().openid_connect_token(
                client_id=self._client_id,
                client_secret=self._client_secret.get_secret_value(),
                code=code,
                redirect_uri=redirect_uri,
                grant_type="authorization_code",
                code_verifier=code_verifier,
            )
            access_token, id_token = tokens.get("access_token"), tokens.get("id_token")
            if not isinstance(access_token, str) or not isinstance(id_token, str):
                raise SignInFailed("provider_error", "openid.connect.token gave no access or ID token")
            claims = self._checked_id_token(id_token, nonce)
            info = await self._client(access_token).openid_connect_userInfo()
            home = await self._served_team() if self._bot_token is not None else None
        except SlackApiError as error:
            raise SignInFailed("provider_error", f"Slack answered {error.response.get('error')}") from None
        team, user = info.get(TEAM_CLAIM), info.get(USER_CLAIM) or info.get("sub")
        if not isinstance(team, str) or not isinstance(user, str) or not team or not user:
            raise SignInFailed("provider_error", "openid.connect.userInfo named no team or user")
        if claims.get("sub") != info.get("sub") or claims.get(TEAM_CLAIM, team) != team:
            raise SignInFailed("provider_error", "the ID token and userInfo name different people")
        if self._bot_token is not None and team != home:
            raise SignInFailed("unknown_workspace", f"team {team} is not the bot's team {home}")
        name, locale = info.get("name"), info.get("locale")
        return Identity(
            platform="slack",
            workspace=team,
            member=user,
            name=name if isinstance(name, str) and name else None,
            locale=locale if isinstance(locale, str) and locale else None,
            workspace_checked=self._bot_token is not None,
        )

    def _checked_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                # Without the signature check PyJWT checks nothing else unless told: audience and issuer
                # are checked explicitly (the token comes straight from Slack over TLS, OIDC Core 3.1.3.7).
                options={
                    "verify_signature": False,
                    "verify_aud": True,
                    "verify_iss": True,
                    "require": ["aud", "iss", "nonce"],
                },
                audience=self._client_id,
                issuer=ISSUER,
            )
        except jwt.PyJWTError as error:
            raise SignInFailed("provider_error", f"ID token refused ({type(error).__name__})") from None
        given = claims.get("nonce")
        if not same_secret(given if isinstance(given, str) else None, nonce):
            raise SignInFailed("provider_error", "the ID token's nonce is not this sign-in's")
        return claims

    async def _served_team(self) -> str | None:
        """The bot token's workspace (asked once: it does not change while the token lives)."""
        assert self._bot_token is not None
        if self._home_team is None:
            answer = await self._client(self._bot_token.get_secret_value()).auth_test()
            team = answer.get("team_id")
            self._home_team = team if isinstance(team, str) else None
        return self._home_team


def sign_in(settings: Settings) -> SlackSignIn | None:
    """Slack's sign-in provider when Slack and its client id and secret are configured."""
    if not settings.slack_configured or settings.slack_client_id is None:
        return None
    if settings.slack_bot_token is None and not settings.slack_installs:
        return None
    return SlackSignIn(settings)
