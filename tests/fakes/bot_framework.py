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

`FakeEntra` also signs people in with OpenID Connect, as Entra does for the bot's app registration
(`client_secret`): `GET /{tenant}/oauth2/v2.0/authorize` is the consent page as the browser of whoever
`sign_in_as` names sees it (nobody: 401; declined: back with `error=access_denied`); it checks the client
id, `response_type=code`, the `openid` scope, an http(s) redirect URI and an S256 PKCE challenge when one
is sent, and redirects back with a single-use code and the state. `POST /{tenant}/oauth2/v2.0/token`
takes the client's id and secret (form fields or HTTP Basic: else 401 `invalid_client`), the code (once,
at the authority that issued it), the same redirect URI and the PKCE verifier (else 400 `invalid_grant`,
as Entra's AADSTS errors are), and answers with an ID token signed by the current key: `iss` the
person's tenant's v2 issuer, `aud` the app id, `tid`, `oid`, `sub`, `name`, `preferred_username`,
`nonce`. For `common`/`organizations` its metadata's issuer is the `{tenantid}` template, as Entra's is.
A browser may also say who is signed in to Microsoft in it with a `fake_entra_session` cookie
(`entra_session(oid, tenant, name)`), as a real browser carries its Microsoft session: tests that only
drive the app's HTTP (and not the fake's object) sign in that way.
`token_requests` records the token endpoint's forms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode

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
ENTRA_AUTHORIZE_PATH = "/{tenant}/oauth2/v2.0/authorize"
ENTRA_TOKEN_PATH = "/{tenant}/oauth2/v2.0/token"
# Authorities that are not one tenant: their metadata's issuer is a template.
ENTRA_SHARED_AUTHORITIES = ("common", "organizations", "consumers")
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


@dataclass(frozen=True)
class EntraUser:
    """A person signed in to Microsoft in the browser that opens the authorize page."""

    oid: str
    tenant: str
    name: str
    username: str


@dataclass(frozen=True)
class _EntraGrant:
    user: EntraUser
    authority: str  # the path's tenant segment the code was issued at (and must be redeemed at)
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None


class FakeEntra(LocalServer):
    """Started again after `stop`, it serves on the same port. `answer`, `rotate`, `fetches` as
    `FakeBotFramework`'s; its key ids are its own (`entra-key-1`…), unless a test names another."""

    keeps_port = True

    def __init__(self, *, app_id: str, client_secret: str | None = None) -> None:
        self.app_id = app_id
        self.client_secret = client_secret or secrets.token_urlsafe(16)  # the app registration's
        self.keys: dict[str, RSAPrivateKey] = {"entra-key-1": new_key()}
        self.current = "entra-key-1"
        self.answer: Literal["ok", "down", "garbage"] = "ok"
        self.fetches: list[str] = []
        self.browser_user: EntraUser | None = None
        self.consents = True
        self.token_requests: list[dict[str, str]] = []
        self.sign_with: RSAPrivateKey | None = None  # signs ID tokens with this key, not the one published
        self._codes: dict[str, _EntraGrant] = {}
        super().__init__()

    def sign_in_as(
        self,
        oid: str | None,
        *,
        tenant: str = "",
        name: str = "",
        username: str = "",
        consents: bool = True,
    ) -> None:
        """Who is signed in to Microsoft in the browser that opens the authorize page (None: nobody)."""
        self.browser_user = None if oid is None else EntraUser(oid, tenant, name, username)
        self.consents = consents

    @property
    def login_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get(ENTRA_METADATA_PATH.format(tenant="{tenant}"), self._metadata)
        app.router.add_get(ENTRA_KEYS_PATH.format(tenant="{tenant}"), self._keys)
        app.router.add_get(ENTRA_AUTHORIZE_PATH.format(tenant="{tenant}"), self._authorize)
        app.router.add_post(ENTRA_TOKEN_PATH.format(tenant="{tenant}"), self._token)
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
        issuer_tenant = "{tenantid}" if tenant in ENTRA_SHARED_AUTHORITIES else tenant
        return self._failure() or web.json_response(
            {
                "issuer": ENTRA_V2_ISSUER.format(tenant=issuer_tenant),
                "authorization_endpoint": self.login_url + ENTRA_AUTHORIZE_PATH.format(tenant=tenant),
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

    # -- sign-in (OpenID Connect) ---------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        redirect_uri = query.get("redirect_uri", "")
        challenge = query.get("code_challenge")
        if (
            query.get("client_id") != self.app_id
            or query.get("response_type") != "code"
            or "openid" not in query.get("scope", "").split()
            or not redirect_uri.startswith(("http://", "https://"))
            or (challenge is not None and query.get("code_challenge_method") != "S256")
        ):
            return web.Response(status=400, text="<h1>AADSTS900144</h1>", content_type="text/html")
        user = _browser_session(request) or self.browser_user
        if user is None:
            return web.Response(status=401, text="<h1>Sign in to your account</h1>", content_type="text/html")
        back = {"state": query.get("state", "")}
        if self.consents:
            code = secrets.token_urlsafe(24)
            self._codes[code] = _EntraGrant(
                user=user,
                authority=request.match_info["tenant"],
                redirect_uri=redirect_uri,
                nonce=query.get("nonce"),
                code_challenge=challenge,
            )
            back["code"] = code
        else:
            back.update(error="access_denied", error_description="AADSTS65004: User declined to consent.")
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(redirect_uri + separator + urlencode(back))

    async def _token(self, request: web.Request) -> web.Response:
        form = {name: value for name, value in (await request.post()).items() if isinstance(value, str)}
        self.token_requests.append(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = secret = None
        if client_id != self.app_id or secret != self.client_secret:
            return _entra_error("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
        if form.get("grant_type") != "authorization_code":
            return _entra_error("unsupported_grant_type", "AADSTS70003")
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.authority != request.match_info["tenant"]:
            return _entra_error("invalid_grant", "AADSTS70008: The provided authorization code is invalid.")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _entra_error("invalid_grant", "AADSTS50148: The redirect_uri does not match.")
        if grant.code_challenge is not None and _s256(form.get("code_verifier")) != grant.code_challenge:
            return _entra_error("invalid_grant", "AADSTS501481: The Code_Verifier does not match.")
        return web.json_response(
            {
                "token_type": "Bearer",
                "scope": "openid profile",
                "expires_in": 3600,
                "access_token": secrets.token_urlsafe(32),
                "id_token": self.id_token(grant.user, nonce=grant.nonce),
            }
        )

    def id_token(
        self,
        user: EntraUser,
        *,
        nonce: str | None,
        audience: str | None = None,
        issuer: str | None = None,
        expires_in: float = 3600,
    ) -> str:
        """An ID token as Entra's v2 endpoint signs it for `user` (each keyword makes it wrong one way)."""
        issued = time.time()
        claims: dict[str, Any] = {
            "aud": self.app_id if audience is None else audience,
            "iss": issuer or ENTRA_V2_ISSUER.format(tenant=user.tenant),
            "iat": int(issued),
            "nbf": int(issued),
            "exp": int(issued + expires_in),
            "ver": "2.0",
            "tid": user.tenant,
            "oid": user.oid,
            "sub": hashlib.sha256(f"{user.oid}:{self.app_id}".encode()).hexdigest()[:43],
            "name": user.name,
            "preferred_username": user.username,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        key = self.sign_with or self.keys[self.current]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.current})

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


def _entra_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _s256(verifier: str | None) -> str | None:
    """RFC 7636's S256 challenge (written here again: the fake checks the app's)."""
    if verifier is None:
        return None
    digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


SESSION_COOKIE = "fake_entra_session"


def entra_session(oid: str, tenant: str, name: str = "") -> str:
    """A `Cookie` header for the fake's authorize page: this browser is signed in to Microsoft as `oid`."""
    return f"{SESSION_COOKIE}={quote(json.dumps([oid, tenant, name]))}"


def _browser_session(request: web.Request) -> EntraUser | None:
    try:
        oid, tenant, name = json.loads(unquote(request.cookies.get(SESSION_COOKIE, "")))
    except (ValueError, TypeError):
        return None
    return EntraUser(str(oid), str(tenant), str(name), f"{oid}@{tenant}")
