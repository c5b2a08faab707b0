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
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig"})
            if self.endorsements is not None:
                jwk["endorsements"] = list(self.endorsements)
            published.append(jwk)
        return web.json_response({"keys": published})

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
