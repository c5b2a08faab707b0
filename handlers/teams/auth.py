"""Who may post activities to `/api/messages`: the Bot Framework's token check, and anonymous mode's rule.

Every activity the Bot Framework sends carries a JWT signed with keys it publishes (its OpenID metadata
names the key set). The Agents SDK checks these tokens too, but not enough for Relais (docs/
teams-sdk-notes.md §1.3): its key URL cannot be configured, the issuer is not checked by default, a
token issued for another service URL is only logged, the keys' endorsements are ignored, and a token
without a `kid` is a 500. So Relais checks them here, following "Authentication with the Bot Connector
API": RS256, the metadata's issuer, audience = the bot's app id, expiry (5 minutes of clock skew), the
signing key's endorsements (when it has some) naming the activity's channel, and the token's
`serviceurl` equal to the activity's `serviceUrl`, so that a reply never goes anywhere the Bot
Framework did not vouch for. Any failure, the keys being unreachable included, is "no valid token".

A SingleTenant or UserAssignedMSI bot (the only kinds Azure creates since 2025-07-31) may also be sent
tokens issued by Microsoft Entra ID for the bot's own tenant (docs/teams-sdk-notes.md §1.5): issuer
`https://sts.windows.net/{tenant}/` (v1) or the tenant's v2 issuer, signed by the keys the tenant's
Entra OpenID metadata names, with `tid` = the tenant. They are checked the same way, against that
tenant only; such a token may carry no `serviceurl`, and then the activity's `serviceUrl` must be a
Bot Connector host, since nothing else vouches for it.

Tokens are judged by the real clock, not Relais's injected one: they were issued in real time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from jwt import PyJWK, PyJWKClient
from microsoft_agents.hosting.core import ClaimsIdentity

logger = logging.getLogger(__name__)

# The Bot Connector's documented tolerance between its clock and the bot's.
CLOCK_SKEW_SECONDS = 5 * 60
# The metadata and key set change rarely (keys roll over days); a token naming a key not yet seen makes
# the key set be fetched again, at most once per KEYS_COOLDOWN_SECONDS.
METADATA_LIFESPAN_SECONDS = 24 * 3600
KEYS_LIFESPAN_SECONDS = 24 * 3600
KEYS_COOLDOWN_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 5.0
# After the keys could not be fetched, a token whose key is not cached is refused at once for this long,
# instead of each request waiting for the same unreachable endpoint in turn.
RETRY_AFTER_FAILURE_SECONDS = 10.0

# Microsoft Entra ID's v1 issuer for a tenant (its v2 issuer is the one the tenant's metadata names).
ENTRA_V1_ISSUER = "https://sts.windows.net/{tenant}/"
ENTRA_METADATA_PATH = "/{tenant}/v2.0/.well-known/openid-configuration"
# The hosts of the Bot Connector's service URLs (Teams' `smba.trafficmanager.net`, the Bot Framework's
# own, Teams' government clouds' `smba.infra.*.teams.microsoft.us`), each with its subdomains: where
# an activity authenticated by an Entra token without `serviceurl` may make Relais send its replies.
CONNECTOR_HOSTS = (
    "smba.trafficmanager.net",
    "botframework.com",
    "botframework.us",
    "teams.microsoft.com",
    "teams.microsoft.us",
)
# Claims by which the SDK takes a token for a call from another agent (a skill) and then asks for a
# token meant for that caller for its replies: an Entra token has them, yet comes from the channel.
_AGENT_CLAIMS = ("ver", "appid", "azp")


class KeysUnavailable(Exception):
    """The OpenID metadata or the key set could not be fetched (or made no sense)."""


@dataclass(frozen=True)
class _Metadata:
    issuer: str
    keys: _KeySet
    fetched_at: float


class _KeySet(PyJWKClient):
    """PyJWT's key-set client (cache, refresh on an unknown `kid` after a cooldown) that also keeps each
    key's `endorsements`, which PyJWT does not expose: the channels the key may sign for."""

    def __init__(self, uri: str, *, cooldown: float) -> None:
        super().__init__(
            uri,
            cache_jwk_set=True,
            lifespan=KEYS_LIFESPAN_SECONDS,
            timeout=FETCH_TIMEOUT_SECONDS,
            cooldown_duration=cooldown,
        )
        self.endorsements: dict[str, list[Any] | None] = {}

    def fetch_data(self) -> Any:
        data = super().fetch_data()
        keys = data.get("keys") if isinstance(data, dict) else None
        self.endorsements = {
            key["kid"]: key.get("endorsements") if isinstance(key.get("endorsements"), list) else None
            for key in (keys if isinstance(keys, list) else ())
            if isinstance(key, dict) and isinstance(key.get("kid"), str)
        }
        return data

    def cached(self, kid: str) -> PyJWK | None:
        """The signing key `kid` from the cached key set, without any fetch."""
        keys = self.jwk_set_cache.get() if self.jwk_set_cache is not None else None
        if keys is None:
            return None
        return self.match_kid([key for key in keys.keys if key.public_key_use in ("sig", None)], kid)


class _Authority:
    """One issuer of tokens as its OpenID metadata describes it: the metadata (cached a day), the key set
    it names (PyJWT's client, fetched again for an unknown key id after a cooldown), and the pause
    after a failed fetch. PyJWT's client fetches synchronously, so it runs in a worker thread, one
    call at a time."""

    def __init__(self, metadata_url: str, *, monotonic: Callable[[], float], keys_cooldown: float) -> None:
        self.metadata_url = metadata_url
        self._monotonic = monotonic
        self._keys_cooldown = keys_cooldown
        self._metadata: _Metadata | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> tuple[PyJWK, list[Any] | None, str]:
        """The signing key named `kid`, its endorsements and the metadata's issuer. Raises
        `KeysUnavailable`, or PyJWT's error for a key id the key set does not have."""
        async with self._lock:
            now = self._monotonic()
            metadata = self._metadata
            if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_SECONDS:
                key = metadata.keys.cached(kid) if metadata is not None else None
                if key is None or metadata is None:
                    raise KeysUnavailable("the keys could not be fetched a moment ago")
            else:
                try:
                    metadata = await self._fresh_metadata(now)
                    key = await asyncio.to_thread(metadata.keys.get_signing_key, kid)
                except (KeysUnavailable, httpx.HTTPError, httpx.InvalidURL, ValueError,
                        jwt.PyJWKClientConnectionError) as exc:  # fmt: skip
                    self._failed_at = now
                    raise KeysUnavailable(f"{type(exc).__name__}: {exc}") from None
                self._failed_at = None
            return key, metadata.keys.endorsements.get(kid), metadata.issuer

    async def _fresh_metadata(self, now: float) -> _Metadata:
        if self._metadata is not None and now - self._metadata.fetched_at < METADATA_LIFESPAN_SECONDS:
            return self._metadata
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.get(self.metadata_url)
            response.raise_for_status()
            document = response.json()
        issuer = document.get("issuer") if isinstance(document, dict) else None
        jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise KeysUnavailable("the OpenID metadata names no issuer or no jwks_uri")
        if self._metadata is not None and self._metadata.keys.uri == jwks_uri:
            keys = self._metadata.keys  # the same key set: keep its cache
        else:
            try:
                keys = _KeySet(jwks_uri, cooldown=self._keys_cooldown)
            except jwt.PyJWKClientError as exc:  # not http(s)
                raise KeysUnavailable(str(exc)) from None
        self._metadata = _Metadata(issuer=issuer, keys=keys, fetched_at=now)
        return self._metadata


class BotFrameworkTokens:
    """Checks the `Authorization` header of an activity; `identity` never raises.

    `metadata_url` is the Bot Framework's OpenID metadata (`TEAMS_OPENID_METADATA_URL`; tests serve their
    own). `entra_tenant`, given for a SingleTenant or UserAssignedMSI bot only (`MICROSOFT_APP_TENANT_ID`),
    makes tokens Microsoft Entra ID issued for that tenant valid too, with the keys named by the tenant's
    metadata at `login_url` (`MICROSOFT_LOGIN_URL`; tests serve their own). `monotonic` times the
    metadata's cache and the pause after a failed fetch; `keys_cooldown` is the least time between two
    fetches of a key set caused by unknown key ids (tests shorten both).
    """

    def __init__(
        self,
        app_id: str,
        *,
        metadata_url: str,
        entra_tenant: str | None = None,
        login_url: str = "https://login.microsoftonline.com",
        monotonic: Callable[[], float] = time.monotonic,
        keys_cooldown: float = KEYS_COOLDOWN_SECONDS,
    ) -> None:
        self._app_id = app_id
        self._bot_framework = _Authority(metadata_url, monotonic=monotonic, keys_cooldown=keys_cooldown)
        self._entra: _Authority | None = None
        # Replies may go to this machine only when Entra itself is faked on it (the tests).
        self._loopback_connector = is_loopback(login_url)
        if entra_tenant:
            self._entra = _Authority(
                login_url.rstrip("/") + ENTRA_METADATA_PATH.format(tenant=entra_tenant),
                monotonic=monotonic,
                keys_cooldown=keys_cooldown,
            )

    async def identity(self, authorization: str | None, activity: Mapping[str, Any]) -> ClaimsIdentity | None:
        """The token's claims when it is valid for this activity, else None (answer 401)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != "RS256" or not isinstance(kid, str):
                logger.warning("Bot Framework token refused: not RS256 or no key id")
                return None
            # Which issuer the token claims only chooses whose keys and rules check it.
            claimed = jwt.decode(token, options={"verify_signature": False}).get("iss")
            entra = self._entra if _entra_shaped(claimed) else None
            if entra is not None:
                claims = await self._entra_claims(token, kid, entra)
            else:
                claims = await self._bot_framework_claims(token, kid, activity)
        except (jwt.PyJWTError, KeysUnavailable) as exc:
            logger.warning(
                "Bot Framework token refused (%s: %.200r)", type(exc).__name__, str(exc)
            )  # repr: no forged lines
            return None
        except Exception:
            logger.exception("Bot Framework token refused: unexpected error while checking it")
            return None
        if claims is None or not self._vouches_for(
            claims, activity.get("serviceUrl"), entra=entra is not None
        ):
            return None
        if entra is not None:
            claims = {name: value for name, value in claims.items() if name not in _AGENT_CLAIMS}
        return ClaimsIdentity(claims, authentication_type="Bearer", security_token=token)

    def _vouches_for(self, claims: Mapping[str, Any], service_url: object, *, entra: bool) -> bool:
        """Whether the token lets Relais send to `service_url`, the activity's: the token's `serviceurl`
        must be it; an Entra token may carry none (the Agents SDK accepts that), and then only a Bot
        Connector host is trusted, so that a token any app of the tenant can get for the bot cannot
        send Relais's replies, and its own Bot Connector token, anywhere else."""
        if "serviceurl" in claims or not entra:
            if isinstance(service_url, str) and claims.get("serviceurl") == service_url:
                return True
            logger.warning("Bot Framework token refused: issued for another service URL")
            return False
        if self._connector_url(service_url):
            return True
        logger.warning(
            "Entra token refused: without a serviceurl claim, the serviceUrl must be the Bot Connector's"
        )
        return False

    async def _bot_framework_claims(
        self, token: str, kid: str, activity: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        key, endorsements, issuer = await self._bot_framework.key(kid)
        if endorsements is not None and activity.get("channelId") not in endorsements:
            logger.warning("Bot Framework token refused: its key is not endorsed for this channel")
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=self._app_id,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
        return claims

    async def _entra_claims(self, token: str, kid: str, entra: _Authority) -> dict[str, Any] | None:
        """An Entra token's claims: signed by the tenant's keys, issued by the tenant (v1 or v2 issuer,
        `tid`). The tenant is the one the metadata's issuer names, `{login}/{tenant id}/v2.0` (so that
        a tenant configured by its domain name works too)."""
        key, _, v2_issuer = await entra.key(kid)
        tenant = _tenant_of(v2_issuer)
        if tenant is None:
            raise KeysUnavailable("the Entra OpenID metadata's issuer names no tenant")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=self._app_id,
            issuer=[v2_issuer, ENTRA_V1_ISSUER.format(tenant=tenant)],
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iss", "aud", "tid"]},
        )
        if not isinstance(claims["tid"], str) or claims["tid"].lower() != tenant.lower():
            logger.warning("Entra token refused: issued for another tenant")
            return None
        return claims

    def _connector_url(self, url: object) -> bool:
        """Whether `url` is an https URL on a Bot Connector host (or on this machine, in tests)."""
        if self._loopback_connector and is_loopback(url):
            return True
        if not isinstance(url, str):
            return False
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme != "https" or not host:
            return False
        return any(host == suffix or host.endswith("." + suffix) for suffix in CONNECTOR_HOSTS)


def _entra_shaped(issuer: object) -> bool:
    """Whether a token claims to come from Microsoft Entra ID (v1 `https://sts.windows.net/{tenant}/`,
    v2 `https://{login}/{tenant}/v2.0`); only what the Entra check then verifies counts."""
    return isinstance(issuer, str) and (
        issuer.startswith(ENTRA_V1_ISSUER.partition("{")[0]) or issuer.endswith("/v2.0")
    )


def _tenant_of(v2_issuer: str) -> str | None:
    head, _, tail = v2_issuer.rpartition("/")
    tenant = head.rpartition("/")[2]
    return tenant if tail == "v2.0" and tenant and "{" not in tenant else None


def is_loopback(url: object) -> bool:
    """Whether `url` is an http(s) URL on this machine (`localhost` or a loopback address): the only
    service URLs anonymous mode answers, so that an unauthenticated activity cannot make Relais send
    requests anywhere else."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname  # lower-cased, without an IPv6 address's brackets
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
