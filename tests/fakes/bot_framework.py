"""A local fake of the Bot Framework's token side: the OpenID metadata and signing keys it publishes, and the
tokens it puts on the activities it sends to a bot.

`FakeBotFramework` is an aiohttp server on 127.0.0.1 (random port) serving, as
`login.botframework.com` does, `GET /v1/.well-known/openidconfiguration` (`issuer`, `jwks_uri`) and
`GET /v1/.well-known/keys` (RSA keys with `kid`, `use: sig` and `endorsements`, the channels a key
signs for). Point `TEAMS_OPENID_METADATA_URL` at `metadata_url`. Its keys are generated locally;
`token(service_url=…)` signs one as the Bot Connector does (RS256, `iss` https://api.botframework.com,
`aud` the bot's app id, `serviceurl`, `nbf`, `exp`), and its keyword arguments make every kind of wrong
token. `answer` scripts the endpoints' failures (`"down"`: 503, `"garbage"`: not JSON), `rotate()` signs
with a new key published beside the old one, and `fetches` records each path fetched.

`FakeEntra` does the same for Microsoft Entra ID, whose tokens a single-tenant bot may be sent instead:
as `login.microsoftonline.com` does for every tenant, it serves `GET /{tenant}/v2.0/.well-known/
openid-configuration` (`issuer` https://login.microsoftonline.com/{tenant}/v2.0, `jwks_uri`) and `GET
/{tenant}/discovery/v2.0/keys`, one key set shared by all tenants (so another tenant's token is signed by
a key the bot trusts: only its issuer and `tid` tell it apart). Point `MICROSOFT_LOGIN_URL` at
`login_url`. `token(tenant=…, version=1|2)` signs an access token as Entra issues it (v1: `iss`
https://sts.windows.net/{tenant}/, `appid`; v2: the v2 issuer, `azp`; both `ver`, `tid`, `aud` the
bot's app id, and no `serviceurl` unless given).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.demo.local import LocalServer

ISSUER = "https://api.botframework.com"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
ENTRA_V1_ISSUER = "https://sts.windows.net/{tenant}/"
ENTRA_V2_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
ENTRA_METADATA_PATH = "/{tenant}/v2.0/.well-known/openid-configuration"
ENTRA_KEYS_PATH = "/{tenant}/discovery/v2.0/keys"
# The client that asked Entra for the token (`appid`/`azp`): some service of the tenant, not the bot.
ENTRA_CALLER = "00000000-0000-4000-8000-0000000c0ffe"

_UNSET: Any = object()


def new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeBotFramework(LocalServer):
    """Started again after `stop`, it serves on the same port: the keys were unreachable, and are back."""

    keeps_port = True

    def __init__(self, *, app_id: str, endorsements: tuple[str, ...] | None = ("msteams",)) -> None:
        self.app_id = app_id
        self.endorsements = endorsements
        self.keys: dict[str, RSAPrivateKey] = {"key-1": new_key()}
        self.current = "key-1"
        self.answer: Literal["ok", "down", "garbage"] = "ok"
        self.fetches: list[str] = []
        super().__init__()

    # -- the server ------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get(KEYS_PATH, self._keys)
        return app

    def _failure(self) -> web.Response | None:
        if self.answer == "down":
            return web.json_response({"error": "unavailable"}, status=503)
        if self.answer == "garbage":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        return None

    async def _metadata(self, request: web.Request) -> web.Response:
        self.fetches.append(METADATA_PATH)
        return self._failure() or web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self.base_url + KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.fetches.append(KEYS_PATH)
        failure = self._failure()
        if failure is not None:
            return failure
        fields = {} if self.endorsements is None else {"endorsements": list(self.endorsements)}
        return web.json_response({"keys": _published(self.keys, **fields)})

    # -- keys and tokens -------------------------------------------------------------------------------

    def rotate(self) -> str:
        """Publish a new key beside the others and sign with it from now on; its key id."""
        kid = f"key-{len(self.keys) + 1}"
        self.keys[kid] = new_key()
        self.current = kid
        return kid

    def token(
        self,
        *,
        service_url: str,
        audience: str | None = None,
        issuer: str = ISSUER,
        expires_in: float = 600,
        not_before: float = 0,
        kid: str | None = _UNSET,
        key: RSAPrivateKey | None = None,
        algorithm: str = "RS256",
        omit: tuple[str, ...] = (),
        now: float | None = None,
    ) -> str:
        """A token as the Bot Connector signs it for an activity sent to `service_url`; each argument makes
        it wrong in one way (`key`: signed by a key that is not published under `kid`)."""
        issued = time.time() if now is None else now
        claims: dict[str, Any] = {
            "serviceurl": service_url,
            "nbf": int(issued + not_before),
            "exp": int(issued + expires_in),
            "iss": issuer,
            "aud": self.app_id if audience is None else audience,
        }
        for name in omit:
            claims.pop(name, None)
        headers = {} if kid is None else {"kid": self.current if kid is _UNSET else kid}
        signing_key: Any = key or self.keys[self.current]
        if algorithm.startswith("HS"):
            signing_key = b"a shared secret the Bot Framework never uses, 32+ bytes long"
        return jwt.encode(claims, signing_key, algorithm=algorithm, headers=headers)


def _published(keys: dict[str, RSAPrivateKey], **fields: Any) -> list[dict[str, Any]]:
    published = []
    for kid, key in keys.items():
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "use": "sig", **fields})
        published.append(jwk)
    return published


class FakeEntra(LocalServer):
    """Started again after `stop`, it serves on the same port. `answer`, `rotate`, `fetches` as
    `FakeBotFramework`'s; its key ids are its own (`entra-key-1`…), unless a test names another."""

    keeps_port = True

    def __init__(self, *, app_id: str) -> None:
        self.app_id = app_id
        self.keys: dict[str, RSAPrivateKey] = {"entra-key-1": new_key()}
        self.current = "entra-key-1"
        self.answer: Literal["ok", "down", "garbage"] = "ok"
        self.fetches: list[str] = []
        super().__init__()

    @property
    def login_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get(ENTRA_METADATA_PATH.format(tenant="{tenant}"), self._metadata)
        app.router.add_get(ENTRA_KEYS_PATH.format(tenant="{tenant}"), self._keys)
        return app

    def _failure(self) -> web.Response | None:
        if self.answer == "down":
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        if self.answer == "garbage":
            return web.Response(text="<html>sign-in is down</html>", content_type="text/html")
        return None

    async def _metadata(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        self.fetches.append(ENTRA_METADATA_PATH.format(tenant=tenant))
        return self._failure() or web.json_response(
            {
                "issuer": ENTRA_V2_ISSUER.format(tenant=tenant),
                "token_endpoint": f"{self.login_url}/{tenant}/oauth2/v2.0/token",
                "jwks_uri": self.login_url + ENTRA_KEYS_PATH.format(tenant=tenant),
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "EU",
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.fetches.append(ENTRA_KEYS_PATH.format(tenant=request.match_info["tenant"]))
        return self._failure() or web.json_response(
            {"keys": _published(self.keys, issuer="https://login.microsoftonline.com/{tenantid}/v2.0")}
        )

    def rotate(self) -> str:
        kid = f"entra-key-{len(self.keys) + 1}"
        self.keys[kid] = new_key()
        self.current = kid
        return kid

    def token(
        self,
        *,
        tenant: str,
        version: Literal[1, 2] = 2,
        audience: str | None = None,
        issuer: str | None = None,
        tid: str | None = _UNSET,
        service_url: str | None = None,
        expires_in: float = 3600,
        kid: str | None = _UNSET,
        key: RSAPrivateKey | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """An app-only access token Entra issues in `tenant` for the bot (`aud`); each other argument makes
        it wrong in one way (`tid=None`: without one; `key`: signed by a key not published under
        `kid`)."""
        issued = time.time()
        claims: dict[str, Any] = {
            "aud": self.app_id if audience is None else audience,
            "iss": issuer or (ENTRA_V1_ISSUER if version == 1 else ENTRA_V2_ISSUER).format(tenant=tenant),
            "iat": int(issued),
            "nbf": int(issued),
            "exp": int(issued + expires_in),
            "ver": f"{version}.0",
            "appid" if version == 1 else "azp": ENTRA_CALLER,
            "oid": "00000000-0000-4000-8000-0000000000aa",
            "sub": "00000000-0000-4000-8000-0000000000aa",
        }
        if tid is not None:
            claims["tid"] = tenant if tid is _UNSET else tid
        if service_url is not None:
            claims["serviceurl"] = service_url
        headers = {} if kid is None else {"kid": self.current if kid is _UNSET else kid}
        signing_key: Any = key or self.keys[self.current]
        if algorithm.startswith("HS"):
            signing_key = b"a shared secret Microsoft Entra ID never uses, 32+ bytes"
        return jwt.encode(claims, signing_key, algorithm=algorithm, headers=headers)
