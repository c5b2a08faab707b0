"""Sign in with Microsoft (Microsoft Entra ID, OpenID Connect), the Teams side of `bot.signin`.

The bot's own app registration signs people in: `MICROSOFT_APP_ID` is the client, `MICROSOFT_APP_PASSWORD`
its secret. The browser goes to `{MICROSOFT_LOGIN_URL}/{tenant}/oauth2/v2.0/authorize` (scopes `openid
profile`, the nonce, the PKCE challenge, S256) and comes back with a code, which the token endpoint
(`.../oauth2/v2.0/token`) exchanges, with the secret, the same redirect URI and the PKCE verifier, for an
ID token. `{tenant}` is the bot's tenant (`MICROSOFT_APP_TENANT_ID`) for a SingleTenant bot, and
`organizations` for a MultiTenant one (any work or school account: a personal Microsoft account could
never be a Teams member of a tenant Relais serves).

The ID token is checked in full, although it comes straight from the token endpoint: signed (RS256) by a
key of the keys the tenant's OpenID metadata names (`handlers.teams.auth`'s cached key sets, the same as
for the Bot Framework's Entra tokens), audience = the app id, issuer = the metadata's (for
`organizations`, its `{tenantid}` template filled with the token's `tid`), the sign-in's nonce, not
expired (5 minutes of skew; the real clock, as every token: it was issued in real time). A member is
(teams, `tid`, `oid`): the tenant is the workspace and the Entra object id the member, as Teams'
activities name them (`aadObjectId`). A SingleTenant bot accepts its own tenant only; a MultiTenant one
any tenant the core already serves (the bot installed there: `Identity.workspace_checked` False).

MSAL is not used here (docs/decisions.md): it builds every endpoint as `https://…` from the authority (so
no local fake Entra could answer it), it keeps its own state, nonce and verifier in a flow dict where the
core keeps them, it is synchronous, and it does not check the ID token's signature.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import jwt

from bot.config import Settings
from bot.services.web_sessions import same_secret
from bot.signin import PKCE_METHOD, Identity, SignInFailed
from handlers.teams.auth import (
    CLOCK_SKEW_SECONDS,
    ENTRA_METADATA_PATH,
    KEYS_COOLDOWN_SECONDS,
    KeysUnavailable,
    _Authority,
    _tenant_of,
)

logger = logging.getLogger(__name__)

SCOPES: Final = "openid profile"
# The authority of a MultiTenant app: work and school accounts of any tenant.
ANY_ORGANIZATION: Final = "organizations"
TENANT_TEMPLATE: Final = "{tenantid}"
TIMEOUT_SECONDS: Final = 10.0


class MicrosoftSignIn:
    """`bot.signin.SignInProvider` for Microsoft Entra ID. `monotonic` and `keys_cooldown` time the key
    set's cache as `handlers.teams.auth`'s (tests shorten them)."""

    name = "microsoft"
    label = "Microsoft"

    def __init__(
        self,
        settings: Settings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        keys_cooldown: float = KEYS_COOLDOWN_SECONDS,
    ) -> None:
        assert settings.microsoft_app_id is not None
        assert settings.microsoft_app_password is not None
        self._client_id = settings.microsoft_app_id
        self._client_secret = settings.microsoft_app_password
        single = settings.microsoft_app_type != "MultiTenant" and settings.microsoft_app_tenant_id
        self._tenant = settings.microsoft_app_tenant_id if single else None
        authority = f"{settings.microsoft_login_url.rstrip('/')}/{self._tenant or ANY_ORGANIZATION}"
        self._authorize_url = f"{authority}/oauth2/v2.0/authorize"
        self._token_url = f"{authority}/oauth2/v2.0/token"
        self._keys = _Authority(
            settings.microsoft_login_url.rstrip("/")
            + ENTRA_METADATA_PATH.format(tenant=self._tenant or ANY_ORGANIZATION),
            monotonic=monotonic,
            keys_cooldown=keys_cooldown,
        )

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        query = {
            "client_id": self._client_id,
            "response_type": "code",
            "response_mode": "query",
            "scope": SCOPES,
            "redirect_uri": redirect_uri,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": PKCE_METHOD,
        }
        return f"{self._authorize_url}?{urlencode(query)}"

    async def identify(self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Identity:
        id_token = await self._redeem(code, redirect_uri, code_verifier)
        claims = await self._checked_id_token(id_token, nonce)
        name = claims.get("name") or claims.get("preferred_username")
        return Identity(
            platform="teams",
            workspace=claims["tid"].lower(),
            member=claims["oid"],
            name=name if isinstance(name, str) and name else None,
            workspace_checked=self._tenant is not None,
        )

    async def _redeem(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """The ID token the token endpoint gives for `code`. Its error answers (a used or forged code, a
        verifier that does not match, a wrong secret) are the provider refusing: never logged in full."""
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "scope": SCOPES,
        }
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
                response = await client.post(self._token_url, data=form)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise SignInFailed("provider_error", f"token endpoint: {type(error).__name__}") from None
        if not isinstance(answer, dict):
            raise SignInFailed("provider_error", f"token endpoint answered {response.status_code}")
        if response.status_code != 200 or "error" in answer:
            error_code = answer.get("error")
            raise SignInFailed(
                "provider_error", f"token endpoint answered {response.status_code} {error_code!r:.60}"
            )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("provider_error", "the token endpoint gave no ID token")
        return id_token

    async def _checked_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims, checked. Its issuer is the metadata's: the bot's tenant's for a
        SingleTenant bot (so a person of another tenant is refused here), or for `organizations` the
        template filled with the token's own `tid` (so `iss` and `tid` name the same tenant)."""
        try:
            header = jwt.get_unverified_header(id_token)
            kid = header.get("kid")
            if header.get("alg") != "RS256" or not isinstance(kid, str):
                raise SignInFailed("provider_error", "ID token not RS256 or without a key id")
            key, _, issuer = await self._keys.key(kid)
            tid = jwt.decode(id_token, options={"verify_signature": False}).get("tid")
            if not isinstance(tid, str) or not tid or "/" in tid:
                raise SignInFailed("provider_error", "ID token without a tenant")
            if TENANT_TEMPLATE not in issuer and tid.lower() != (_tenant_of(issuer) or "").lower():
                raise SignInFailed("unknown_workspace", f"tenant {tid} is not the bot's tenant")
            expected_issuer = issuer.replace(TENANT_TEMPLATE, tid)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=self._client_id,
                issuer=expected_issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "tid", "oid", "nonce"]},
            )
        except (jwt.PyJWTError, KeysUnavailable) as error:
            raise SignInFailed("provider_error", f"ID token refused ({type(error).__name__})") from None
        given = claims.get("nonce")
        if not same_secret(given if isinstance(given, str) else None, nonce):
            raise SignInFailed("provider_error", "the ID token's nonce is not this sign-in's")
        if not isinstance(claims.get("oid"), str) or not claims["oid"]:
            raise SignInFailed("provider_error", "ID token without an object id")
        return claims


def sign_in(settings: Settings, **timing: Any) -> MicrosoftSignIn | None:
    """Microsoft's sign-in provider when the bot has an app registration with a client secret (a
    UserAssignedMSI bot has none: it cannot sign people in this way)."""
    if (
        settings.microsoft_app_id is None
        or settings.microsoft_app_password is None
        or settings.microsoft_app_type == "UserAssignedMSI"
    ):
        return None
    return MicrosoftSignIn(settings, **timing)
