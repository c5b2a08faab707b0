"""Local fakes of LinkedIn and X (Twitter): their OAuth 2.0 endpoints and the posting APIs the app uses.

Each fake is an aiohttp server on 127.0.0.1 (random port) that the real `httpx` client talks to; point the
app's settings at it (`LINKEDIN_AUTH_URL=fake.auth_url`, `LINKEDIN_API_URL=fake.api_url`, the same for X).

`FakeLinkedIn` speaks:

* `GET  /oauth/v2/authorization` - the member consents at once: 302 to `redirect_uri?code=...&state=...`
  (after `deny_next()`: `error=user_cancelled_login&error_description=...&state=...`). An unknown
  `client_id` or unregistered `redirect_uri` gets an HTML error page (LinkedIn never redirects then); a
  scope without `w_member_social` is redirected back with `error=unauthorized_scope_error`.
* `POST /oauth/v2/accessToken` - form `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id`,
  `client_secret` -> `{"access_token", "expires_in": 5184000, "scope"}` (scope comma-separated); a used or
  unknown code -> 400 `invalid_request`; a wrong client secret -> 401 `invalid_client`.
* `GET  /v2/userinfo` - OpenID userinfo of the token's member; a bad token -> 401 with
  `serviceErrorCode` 65600 (65601 for an expired one).
* `POST /rest/posts` - needs `LinkedIn-Version: YYYYMM` (400 when missing or malformed, 426 when not one
  of the last 12 months) and `X-Restli-Protocol-Version: 2.0.0` (400), a token with `w_member_social`
  (403), `author` = `urn:li:person:<sub of the token>` (403); duplicate commentary of a live post by the
  same author (and the same content) or commentary over 3000 characters -> 422. `content.article` needs
  `source` (a URL) and `title`; its `thumbnail` must be an uploaded image (422 otherwise). 201 with an empty
  body and `x-restli-id`.
* `POST /rest/images?action=initializeUpload` - `{"initializeUploadRequest": {"owner": "urn:li:person:…"}}`
  (the token's member, else 403) -> `{"value": {"uploadUrl", "image", "uploadUrlExpiresAt"}}`; then
  `PUT {uploadUrl}` with the bytes and the same token -> 201, and the image is available (`images`).
* `DELETE /rest/posts/{urn}` (URL-encoded) - 204; unknown -> 404; somebody else's -> 403.

`FakeX` speaks:

* `GET  /i/oauth2/authorize` - needs `response_type=code`, the client id, `code_challenge` and
  `code_challenge_method` (`S256` or `plain`); 302 to `redirect_uri?state=...&code=...` (after
  `deny_next()`: `error=access_denied&state=...`).
* `POST /2/oauth2/token` - client authentication by HTTP Basic (confidential client, checked) or
  `client_id` in the form (public client). `authorization_code` grant checks the code, the
  `redirect_uri` and the PKCE `code_verifier`; `refresh_token` grant rotates the refresh token (the old one
  stops working). `{"token_type": "bearer", "expires_in": 7200, "access_token", "scope",
  "refresh_token"}` (the refresh token only with `offline.access`); failures are 400 `invalid_request`.
* `POST /2/oauth2/revoke` - 200 `{"revoked": true}`.
* `GET  /2/users/me`, `POST /2/tweets`, `DELETE /2/tweets/{id}` - X's problem-JSON errors (401
  Unauthorized, 400 invalid-request for text over 280 weighted characters - URLs count 23, most
  non-Latin characters 2 - and 403 for duplicate text of the same user).
* Every `/2/...` response carries `x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset`
  (epoch seconds) from per-user 15-minute windows (`rate_limits`); exhausting one gives a real 429
  without `Retry-After`.

Both record every request (`calls`), keep their state as plain data (`tokens`, `posts` / `tweets`,
`members` / `users`) and take failure injection: `fail_next(key, status=..., headers=..., json=...,
times=..., acts=...)`, `delay(key, seconds)` and `burst(key, *answers)` (a run of mixed answers: errors,
errors after the work was done, timeouts after it was done, normal answers), where `key` is a route name
(see `ROUTES`), a request path ("/rest/posts", "/2/tweets") or "METHOD /path". `idle()` waits until no
request is being answered (a stalled one included).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from aiohttp import web

from bot.demo.local import LocalServer

__all__ = ["FakeLinkedIn", "FakeToken", "FakeX", "SocialCall", "x_weighted_length"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LINKEDIN_TOKEN_LIFETIME = 5_184_000  # 60 days
LINKEDIN_MAX_COMMENTARY = 3000
X_TOKEN_LIFETIME = 7200  # 2 hours
X_MAX_WEIGHTED_LENGTH = 280
X_URL_WEIGHT = 23
X_RATE_WINDOW = 900  # 15 minutes


@dataclass
class SocialCall:
    """One HTTP request, as the fake received it (and the status it answered)."""

    method: str  # "GET", "POST"...
    path: str  # decoded path, e.g. "/rest/posts/urn:li:share:1"
    route: str  # route name, e.g. "create_post" (see ROUTES)
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # the decoded JSON body, if any
    form: dict[str, str] | None = None  # the form-encoded body, if any
    body: str = ""  # the raw body text
    status: int = 0  # what the fake answered


_CALL_KEY = web.RequestKey("relais_social_call", SocialCall)


@dataclass
class FakeToken:
    """An access token the fake issued."""

    subject: str  # LinkedIn member `sub` / X user id
    scope: tuple[str, ...]
    expires_at: float  # epoch seconds
    client_id: str = ""

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class _Failure:
    status: int  # 0: the normal answer (see `acts` and `stall`)
    headers: dict[str, str]
    json: Any
    acts: bool = False  # the request is carried out (a post is made) before `status` is answered
    stall: float = 0.0  # seconds before anything happens (a client that waits less sees a timeout)
    late: bool = False  # the request is carried out at once, and answered normally after `stall`


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    subject: str
    scope: tuple[str, ...]
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class _Bucket:
    reset: int
    used: int = 0


def _html_page(status: int, message: str) -> web.Response:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    text = (
        f"<html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{phrase}</h1><p>{message}</p></body></html>"
    )
    return web.Response(status=status, text=text, content_type="text/html")


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data), content_type="application/json", headers=dict(headers or {})
    )


def _redirect(uri: str, params: Mapping[str, str]) -> web.Response:
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return web.Response(status=302, headers={"Location": location})


def _split_scope(scope: str) -> tuple[str, ...]:
    return tuple(s for s in re.split(r"[\s,]+", scope.strip()) if s)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_URL_RE = re.compile(r"https?://[^\s]+", re.IGNORECASE)
# twitter-text v3: these code points weigh 1, every other one 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def x_weighted_length(text: str) -> int:
    """X's weighted length of a post (twitter-text v3, simplified): NFC-normalised; each http(s) URL counts
    23; code points in the Latin-ish ranges 1, others (CJK, emoji...) 2; emoji modifiers, variation
    selectors and the parts of a ZWJ sequence after the first count 0."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    rest: list[str] = []
    last = 0
    for match in _URL_RE.finditer(text):
        rest.append(text[last : match.start()])
        total += X_URL_WEIGHT
        last = match.end()
    rest.append(text[last:])
    for chunk in rest:
        after_zwj = False
        for char in chunk:
            cp = ord(char)
            if cp == 0x200D:
                after_zwj = True
                continue
            if after_zwj or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF:
                after_zwj = False
                continue
            total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2
    return total


class _FakeServer(LocalServer):
    """What both fakes share: lifecycle, recording, failure injection, tokens."""

    ROUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] | None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris  # None: any redirect URI is accepted
        self.calls: list[SocialCall] = []
        self.tokens: dict[str, FakeToken] = {}
        self.authorization_requests: list[dict[str, str]] = []  # query of each authorization request
        self.codes: dict[str, _AuthCode] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._denials = 0
        super().__init__()

    # ---------------------------------------------------------------------------------------------------
    # lifecycle

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app)
        return app

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url

    # ---------------------------------------------------------------------------------------------------
    # test controls

    def fail_next(
        self,
        key: str,
        *,
        status: int = 500,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        times: int = 1,
        acts: bool = False,
    ) -> None:
        """Make the next `times` requests matching `key` (a route name, a path, or "METHOD /path") answer
        `status` with the platform's usual error body (or `json`) and `headers` added. With `acts` the
        request is carried out first (the post is made), as when a server fails after its work is done."""
        self._failures.setdefault(key, []).extend(
            _Failure(status=status, headers=dict(headers or {}), json=json, acts=acts) for _ in range(times)
        )

    def burst(self, key: str, *answers: int | str, stall: float = 1.0) -> None:
        """Queue the answers of the next requests matching `key`, one each, in order:

        * a status (`500`, `429`, `401`...): the platform's error body, nothing done;
        * `"500 after"` (any status): the request is carried out (the post is made), then the error;
        * `"timeout"`: carried out and answered normally, but only after `stall` seconds (a timeout for a
          client that waits less, after the network did the work);
        * `"ok"`: the normal answer;
        * `"late"`: carried out at once, answered normally after `stall` seconds (the network did the
          work, and its answer is still on its way while other calls run).

        Requests beyond the burst are answered normally. A 429 comes without `Retry-After` (X's real 429s
        carry `x-rate-limit-reset`, added as usual)."""
        queue = self._failures.setdefault(key, [])
        for answer in answers:
            if answer == "ok":
                queue.append(_Failure(status=0, headers={}, json=None))
            elif answer == "late":
                queue.append(_Failure(status=0, headers={}, json=None, stall=stall, late=True))
            elif answer == "timeout":
                queue.append(_Failure(status=0, headers={}, json=None, acts=True, stall=stall))
            elif isinstance(answer, str) and answer.endswith(" after"):
                queue.append(_Failure(status=int(answer.split()[0]), headers={}, json=None, acts=True))
            elif isinstance(answer, int):
                queue.append(_Failure(status=answer, headers={}, json=None))
            else:
                raise ValueError(f"unknown answer {answer!r}")

    async def idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a test's own bound
        """Wait until no request is being answered (stalled ones finish their work), at most `timeout`."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    def delay(self, key: str, seconds: float) -> None:
        """Answer requests matching `key` only after `seconds`, until `reset()`; 0 removes the delay."""
        if seconds <= 0:
            self._delays.pop(key, None)
        else:
            self._delays[key] = seconds

    def deny_next(self, times: int = 1) -> None:
        """The user refuses the next `times` authorization requests."""
        self._denials += times

    def reset(self) -> None:
        """Forget recorded calls, injected failures, delays and denials; keep tokens and posts."""
        self.calls.clear()
        self._failures.clear()
        self._delays.clear()
        self._denials = 0

    def calls_to(self, key: str) -> list[SocialCall]:
        return [c for c in self.calls if key in (c.route, c.path, f"{c.method} {c.path}")]

    def issue_token(
        self, subject: str, *, scope: str | None = None, expires_in: int | None = None, client_id: str = ""
    ) -> str:
        """Mint an access token for `subject` (the platform's default scopes and lifetime unless given)."""
        token = self._new_token()
        self.tokens[token] = FakeToken(
            subject=subject,
            scope=_split_scope(scope if scope is not None else self._default_scope()),
            expires_at=time.time() + (expires_in if expires_in is not None else self._token_lifetime()),
            client_id=client_id or self.client_id,
        )
        return token

    def expire_token(self, token: str) -> None:
        self.tokens[token].expires_at = time.time() - 1

    def _default_scope(self) -> str:
        raise NotImplementedError

    def _token_lifetime(self) -> int:
        raise NotImplementedError

    def _new_token(self) -> str:
        return secrets.token_urlsafe(32)

    # ---------------------------------------------------------------------------------------------------
    # plumbing

    def _take_denial(self) -> bool:
        if self._denials > 0:
            self._denials -= 1
            return True
        return False

    def _redirect_allowed(self, redirect_uri: str) -> bool:
        if not redirect_uri.startswith(("http://", "https://")):
            return False
        return self.redirect_uris is None or redirect_uri in self.redirect_uris

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return value.strip()

    def _keys(self, call: SocialCall) -> tuple[str, ...]:
        return (f"{call.method} {call.path}", call.path, call.route)

    def _failure_response(self, call: SocialCall, failure: _Failure) -> web.StreamResponse:
        raise NotImplementedError

    def _finish(self, request: web.Request, call: SocialCall, response: web.StreamResponse) -> None:
        """Hook to decorate every response (X adds its rate-limit headers)."""

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name or ""
        # Bytes as text for the record (an image upload is binary); handlers read the bytes themselves.
        raw = (await request.read()).decode("utf-8", "replace") if request.body_exists else ""
        call = SocialCall(
            method=request.method,
            path=unquote(request.rel_url.raw_path),
            route=route,
            query=dict(request.query),
            headers=dict(request.headers),
            body=raw,
        )
        if request.content_type == "application/json" and raw:
            try:
                call.json = json.loads(raw)
            except ValueError:
                call.json = None
        elif request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            call.form = {k: v for k, v in form.items() if isinstance(v, str)}
        self.calls.append(call)
        request[_CALL_KEY] = call
        self._in_flight += 1
        self._idle.clear()
        try:
            response = await self._answer(request, call, handler)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
        self._finish(request, call, response)
        call.status = response.status
        return response

    async def _answer(self, request: web.Request, call: SocialCall, handler: Handler) -> web.StreamResponse:
        """The delay, then the injected failure (or burst answer) queued first for the request, if any,
        else the handler's answer."""
        keys = self._keys(call)
        for key in keys:
            seconds = self._delays.get(key)
            if seconds:
                await asyncio.sleep(seconds)
                break
        failure = next((queue.pop(0) for key in keys if (queue := self._failures.get(key))), None)
        if failure is None:
            return await handler(request)
        if failure.late:
            response = await handler(request)
            await asyncio.sleep(failure.stall)
            return response
        if failure.stall:
            await asyncio.sleep(failure.stall)
        if failure.status == 0:
            return await handler(request)
        if failure.acts:
            await handler(request)
        response = self._failure_response(call, failure)
        for name, value in failure.headers.items():
            response.headers[name] = value
        return response


def _call(request: web.Request) -> SocialCall:
    return request[_CALL_KEY]


def _months_back(month: int, count: int) -> int:
    """YYYYMM `count` months before `month` (YYYYMM)."""
    year, mon = divmod(month, 100)
    index = year * 12 + (mon - 1) - count
    return (index // 12) * 100 + index % 12 + 1


# ======================================================================================================
# LinkedIn


class FakeLinkedIn(_FakeServer):
    """A fake of LinkedIn's OAuth 2.0 (3-legged) flow, OpenID userinfo and the versioned Posts API.

    `members` holds the OpenID profiles (sub -> userinfo dict); the member `consenting` (the first one by
    default) is the one who consents at the authorization URL (`consent_as(sub)` changes it).
    `posts` maps a share URN to `{"urn", "author", "commentary", "body", "version"}`.
    """

    ROUTES = (
        "authorization",
        "access_token",
        "userinfo",
        "create_post",
        "delete_post",
        "initialize_image_upload",
        "upload_image",
    )

    def __init__(
        self,
        *,
        client_id: str = "linkedin-client-id",
        client_secret: str = "linkedin-client-secret",  # noqa: S107
        redirect_uris: tuple[str, ...] | None = None,
        member_sub: str = "782bbtaQ",
        member_name: tuple[str, str] = ("Alice", "Martin"),
        active_versions: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, redirect_uris=redirect_uris)
        self.members: dict[str, dict[str, Any]] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.deleted_posts: dict[str, dict[str, Any]] = {}
        # image URN -> {"urn", "owner", "status" (WAITING_UPLOAD / AVAILABLE), "data", "content_type"}
        self.images: dict[str, dict[str, Any]] = {}
        now = datetime.now(UTC)
        current = now.year * 100 + now.month
        # LinkedIn keeps each monthly version for (at least) a year.
        self.active_versions = active_versions or (str(_months_back(current, 11)), str(current))
        self._share_counter = 7_400_000_000_000_000_000
        self.add_member(member_sub, given_name=member_name[0], family_name=member_name[1])
        self.consenting = member_sub

    @property
    def auth_url(self) -> str:
        """LINKEDIN_AUTH_URL: `{auth_url}/authorization` and `{auth_url}/accessToken`."""
        return f"{self.base_url}/oauth/v2"

    def add_member(
        self,
        sub: str,
        *,
        given_name: str = "Test",
        family_name: str = "Member",
        email: str | None = None,
        locale: tuple[str, str] = ("en", "US"),
    ) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "sub": sub,
            "email_verified": True,
            "name": f"{given_name} {family_name}",
            "locale": {"country": locale[1], "language": locale[0]},
            "given_name": given_name,
            "family_name": family_name,
            "email": email or f"{given_name.lower()}.{family_name.lower()}@example.com",
            "picture": f"https://media.licdn.com/dms/image/fake/{sub}",
        }
        self.members[sub] = profile
        return profile

    def consent_as(self, sub: str) -> None:
        if sub not in self.members:
            self.add_member(sub)
        self.consenting = sub

    def issue_token(
        self, subject: str, *, scope: str | None = None, expires_in: int | None = None, client_id: str = ""
    ) -> str:
        if subject not in self.members:
            self.add_member(subject)
        return super().issue_token(subject, scope=scope, expires_in=expires_in, client_id=client_id)

    def _default_scope(self) -> str:
        return "openid profile email w_member_social"

    def _token_lifetime(self) -> int:
        return LINKEDIN_TOKEN_LIFETIME

    def _new_token(self) -> str:
        return "AQV" + secrets.token_urlsafe(48)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/oauth/v2/authorization", self._authorization, name="authorization")
        app.router.add_post("/oauth/v2/accessToken", self._access_token, name="access_token")
        app.router.add_get("/v2/userinfo", self._userinfo, name="userinfo")
        app.router.add_post("/rest/posts", self._create_post, name="create_post")
        app.router.add_delete("/rest/posts/{urn}", self._delete_post, name="delete_post")
        app.router.add_post("/rest/images", self._initialize_image_upload, name="initialize_image_upload")
        app.router.add_put("/dms-uploads/{id}", self._upload_image, name="upload_image")

    def _failure_response(self, call: SocialCall, failure: _Failure) -> web.StreamResponse:
        if failure.json is not None:
            return _json(failure.json, status=failure.status)
        if failure.status == 429:
            message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
        else:
            try:
                message = HTTPStatus(failure.status).phrase
            except ValueError:
                message = "Error"
        return _json({"message": message, "status": failure.status}, status=failure.status)

    @staticmethod
    def _error(status: int, message: str, **extra: Any) -> web.Response:
        return _json({**extra, "message": message, "status": status}, status=status)

    # ---------------------------------------------------------------------------------------------------
    # OAuth

    async def _authorization(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.authorization_requests.append(q)
        client_id = q.get("client_id", "")
        redirect_uri = q.get("redirect_uri", "")
        if client_id != self.client_id:
            return _html_page(400, "The passed in client_id is invalid")
        if not self._redirect_allowed(redirect_uri):
            return _html_page(400, "The redirect_uri does not match the registered value")
        state = q.get("state", "")
        back = {"state": state} if state else {}
        if q.get("response_type") != "code":
            return _redirect(
                redirect_uri,
                {"error": "invalid_request", "error_description": "response_type must be code", **back},
            )
        scope = _split_scope(q.get("scope", ""))
        if "w_member_social" not in scope:
            return _redirect(
                redirect_uri,
                {
                    "error": "unauthorized_scope_error",
                    "error_description": "Scope w_member_social is required for Share on LinkedIn",
                    **back,
                },
            )
        if self._take_denial():
            return _redirect(
                redirect_uri,
                {
                    "error": "user_cancelled_login",
                    "error_description": "The user cancelled LinkedIn login",
                    **back,
                },
            )
        code = "AQT" + secrets.token_urlsafe(40)
        self.codes[code] = _AuthCode(
            client_id=client_id, redirect_uri=redirect_uri, subject=self.consenting, scope=scope
        )
        return _redirect(redirect_uri, {"code": code, **back})

    async def _access_token(self, request: web.Request) -> web.StreamResponse:
        form = _call(request).form or {}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _json(
                {"error": "invalid_client", "error_description": "Client authentication failed"}, status=401
            )
        if form.get("grant_type") != "authorization_code":
            return _json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Unsupported grant type: " + form.get("grant_type", ""),
                },
                status=400,
            )
        code = self.codes.get(form.get("code", ""))
        if code is None or code.used or code.redirect_uri != form.get("redirect_uri"):
            return _json(
                {
                    "error": "invalid_request",
                    "error_description": "Unable to retrieve access token: appid/redirect uri/code verifier "
                    "does not match authorization code. Or authorization code expired.",
                },
                status=400,
            )
        code.used = True
        token = self.issue_token(code.subject, scope=" ".join(code.scope), client_id=code.client_id)
        return _json(
            {
                "access_token": token,
                "expires_in": LINKEDIN_TOKEN_LIFETIME,
                "scope": ",".join(code.scope),
                "token_type": "Bearer",
            }
        )

    def _authenticate(self, request: web.Request) -> tuple[FakeToken | None, web.Response | None]:
        token = self._bearer(request)
        info = self.tokens.get(token) if token else None
        if info is None:
            return None, self._error(401, "Invalid access token", serviceErrorCode=65600)
        if info.expired:
            return None, self._error(401, "The token used in the request has expired", serviceErrorCode=65601)
        return info, None

    async def _userinfo(self, request: web.Request) -> web.StreamResponse:
        info, error = self._authenticate(request)
        if error is not None or info is None:
            return error or self._error(401, "Invalid access token", serviceErrorCode=65600)
        if "openid" not in info.scope:
            return self._error(
                403, "Not enough permissions to access: userinfo.GET.NO_VERSION", serviceErrorCode=100
            )
        return _json(self.members[info.subject])

    # ---------------------------------------------------------------------------------------------------
    # Posts API

    def _check_rest_headers(self, request: web.Request) -> web.Response | None:
        version = request.headers.get("LinkedIn-Version")
        if not version:
            return self._error(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        if not re.fullmatch(r"\d{6}(\.\d{2})?", version):
            return self._error(400, f"Invalid version format: {version}", code="INVALID_VERSION")
        month = version[:6]
        oldest, newest = self.active_versions
        if not oldest <= month <= newest:
            return self._error(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return self._error(
                400,
                "Invalid or missing X-Restli-Protocol-Version header; this resource requires 2.0.0",
                code="INVALID_PROTOCOL_VERSION",
            )
        return None

    async def _create_post(self, request: web.Request) -> web.StreamResponse:
        info, error = self._authenticate(request)
        if error is not None or info is None:
            return error or self._error(401, "Invalid access token", serviceErrorCode=65600)
        header_error = self._check_rest_headers(request)
        if header_error is not None:
            return header_error
        version = request.headers["LinkedIn-Version"]
        if "w_member_social" not in info.scope:
            return self._error(
                403,
                f"Not enough permissions to access: partnerApiPostsExternal.CREATE.{version}",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        body = _call(request).json
        if not isinstance(body, dict):
            return self._error(400, "Request body is not valid JSON", code="ILLEGAL_ARGUMENT")
        author_urn = f"urn:li:person:{info.subject}"
        if body.get("author") != author_urn:
            return self._error(
                403,
                f"Not enough permissions to access: partnerApiPostsExternal.CREATE.{version}",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        problems: list[str] = []
        commentary = body.get("commentary")
        if not isinstance(commentary, str):
            problems.append("/commentary :: field is required")
        if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
            problems.append("/visibility :: field is required and must be PUBLIC")
        distribution = body.get("distribution")
        if not isinstance(distribution, dict) or distribution.get("feedDistribution") != "MAIN_FEED":
            problems.append("/distribution/feedDistribution :: must be MAIN_FEED")
        if body.get("lifecycleState") != "PUBLISHED":
            problems.append("/lifecycleState :: must be PUBLISHED")
        if problems:
            return self._error(
                422,
                "ERROR :: " + "; ".join(problems),
                errorDetails={"inputErrors": [{"description": p} for p in problems]},
            )
        assert isinstance(commentary, str)
        content_error = self._check_content(body.get("content"))
        if content_error is not None:
            return content_error
        if len(commentary) > LINKEDIN_MAX_COMMENTARY:
            return self._error(
                422,
                f"ERROR :: /commentary :: length {len(commentary)} exceeds maximum length "
                f"{LINKEDIN_MAX_COMMENTARY}",
            )
        for urn, post in self.posts.items():
            same_content = post["body"].get("content") == body.get("content")
            if post["author"] == author_urn and post["commentary"] == commentary and same_content:
                return self._error(422, f"Content is a duplicate of {urn}")
        self._share_counter += 1
        urn = f"urn:li:share:{self._share_counter}"
        self.posts[urn] = {
            "urn": urn,
            "author": author_urn,
            "commentary": commentary,
            "body": body,
            "version": version,
        }
        return web.Response(status=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    def _check_content(self, content: Any) -> web.Response | None:
        """`content.article`: `source` (an http(s) URL) and `title` required, `description` optional,
        `thumbnail` an image URN uploaded through the Images API."""
        if content is None:
            return None
        article = content.get("article") if isinstance(content, dict) else None
        if not isinstance(article, dict):
            return self._error(422, "ERROR :: /content :: unsupported content type")
        problems: list[str] = []
        source = article.get("source")
        if not isinstance(source, str) or urlsplit(source).scheme not in ("http", "https"):
            problems.append("/content/article/source :: field is required and must be a URL")
        if not isinstance(article.get("title"), str) or not article["title"]:
            problems.append("/content/article/title :: field is required")
        if "description" in article and not isinstance(article["description"], str):
            problems.append("/content/article/description :: must be a string")
        thumbnail = article.get("thumbnail")
        if thumbnail is not None:
            image = self.images.get(thumbnail) if isinstance(thumbnail, str) else None
            if image is None or image["status"] != "AVAILABLE":
                problems.append(f"/content/article/thumbnail :: {thumbnail} is not an available image")
        if problems:
            return self._error(422, "ERROR :: " + "; ".join(problems))
        return None

    async def _initialize_image_upload(self, request: web.Request) -> web.StreamResponse:
        """`POST /rest/images?action=initializeUpload` `{"initializeUploadRequest": {"owner"}}`: an upload
        URL and the image's URN, waiting for its bytes."""
        info, error = self._authenticate(request)
        if error is not None or info is None:
            return error or self._error(401, "Invalid access token", serviceErrorCode=65600)
        header_error = self._check_rest_headers(request)
        if header_error is not None:
            return header_error
        if request.query.get("action") != "initializeUpload":
            return self._error(400, "Unsupported action", code="ILLEGAL_ARGUMENT")
        body = _call(request).json
        upload = body.get("initializeUploadRequest") if isinstance(body, dict) else None
        owner = upload.get("owner") if isinstance(upload, dict) else None
        if not isinstance(owner, str):
            return self._error(422, "ERROR :: /initializeUploadRequest/owner :: field is required")
        if owner != f"urn:li:person:{info.subject}" or "w_member_social" not in info.scope:
            version = request.headers["LinkedIn-Version"]
            return self._error(
                403,
                f"Not enough permissions to access: images.ACTION.{version}",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        upload_id = secrets.token_urlsafe(12)
        urn = f"urn:li:image:C4E{upload_id}"
        self.images[urn] = {"urn": urn, "owner": owner, "status": "WAITING_UPLOAD", "upload_id": upload_id}
        return _json(
            {
                "value": {
                    "uploadUrlExpiresAt": int(time.time() * 1000) + 86_400_000,
                    "uploadUrl": f"{self.base_url}/dms-uploads/{upload_id}",
                    "image": urn,
                }
            }
        )

    async def _upload_image(self, request: web.Request) -> web.StreamResponse:
        """`PUT` the image's bytes to its upload URL, with the owner's token: 201, the image is available."""
        info, error = self._authenticate(request)
        if error is not None or info is None:
            return error or self._error(401, "Invalid access token", serviceErrorCode=65600)
        upload_id = request.match_info["id"]
        image = next((i for i in self.images.values() if i["upload_id"] == upload_id), None)
        if image is None or image["owner"] != f"urn:li:person:{info.subject}":
            return self._error(404, "Upload not found", code="NOT_FOUND")
        data = await request.read()
        if not data:
            return self._error(400, "Empty upload", code="ILLEGAL_ARGUMENT")
        image.update(status="AVAILABLE", data=data, content_type=request.content_type)
        return web.Response(status=201)

    async def _delete_post(self, request: web.Request) -> web.StreamResponse:
        info, error = self._authenticate(request)
        if error is not None or info is None:
            return error or self._error(401, "Invalid access token", serviceErrorCode=65600)
        header_error = self._check_rest_headers(request)
        if header_error is not None:
            return header_error
        raw = request.rel_url.raw_path.removeprefix("/rest/posts/")
        urn = unquote(raw)
        post = self.posts.get(urn)
        if post is None:
            return self._error(404, f"Not Found: {urn}", code="NOT_FOUND")
        if post["author"] != f"urn:li:person:{info.subject}":
            version = request.headers["LinkedIn-Version"]
            return self._error(
                403,
                f"Not enough permissions to access: partnerApiPostsExternal.DELETE.{version}",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        self.deleted_posts[urn] = self.posts.pop(urn)
        return web.Response(status=204)


# ======================================================================================================
# X


class FakeX(_FakeServer):
    """A fake of X's OAuth 2.0 (PKCE) flow and the v2 API the app uses.

    `users` maps a user id to `{"id", "name", "username"}`; the user `consenting` (the first one by
    default) authorizes at the authorize URL (`consent_as(user_id)` changes it). `tweets` maps a post id
    to `{"id", "text", "author_id", "body"}`. `refresh_tokens` maps a live refresh token to its grant.
    `rate_limits` maps a route name to the limit per user per 15-minute window. `app_daily_limit` and
    `user_daily_limit` are the 24-hour usage caps of `POST /2/tweets` (per app, per user; None: no cap),
    reported in `x-app-limit-24hour-*` / `x-user-limit-24hour-*` headers, a used-up one answering 429 until
    its reset. `undeletable` holds post ids whose deletion X answers 200 `{"data": {"deleted": false}}`.
    """

    ROUTES = ("authorize", "token", "revoke", "me", "create_tweet", "delete_tweet")

    def __init__(
        self,
        *,
        client_id: str = "x-client-id",
        client_secret: str = "x-client-secret",  # noqa: S107
        redirect_uris: tuple[str, ...] | None = None,
        user_id: str = "1500000000000000001",
        user_name: str = "Alice Martin",
        username: str = "alice",
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, redirect_uris=redirect_uris)
        self.users: dict[str, dict[str, str]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.deleted_tweets: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, FakeToken] = {}
        self.revoked: list[str] = []
        self.rate_limits: dict[str, int] = {
            "token": 300,
            "revoke": 300,
            "me": 75,
            "create_tweet": 100,
            "delete_tweet": 50,
        }
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.app_daily_limit: int | None = 10_000
        self.user_daily_limit: int | None = None
        self._daily: dict[str, _Bucket] = {}  # "app" or a user id -> its 24-hour window
        self.undeletable: set[str] = set()
        self._tweet_counter = 1_860_000_000_000_000_000
        self.add_user(user_id, name=user_name, username=username)
        self.consenting = user_id

    @property
    def auth_url(self) -> str:
        """X_AUTH_URL: the authorize endpoint itself."""
        return f"{self.base_url}/i/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/2/oauth2/token"

    def add_user(
        self, user_id: str, *, name: str = "Test User", username: str | None = None
    ) -> dict[str, str]:
        user = {"id": user_id, "name": name, "username": username or f"user{user_id[-6:]}"}
        self.users[user_id] = user
        return user

    def consent_as(self, user_id: str) -> None:
        if user_id not in self.users:
            self.add_user(user_id)
        self.consenting = user_id

    def issue_token(
        self, subject: str, *, scope: str | None = None, expires_in: int | None = None, client_id: str = ""
    ) -> str:
        if subject not in self.users:
            self.add_user(subject)
        return super().issue_token(subject, scope=scope, expires_in=expires_in, client_id=client_id)

    def _default_scope(self) -> str:
        return "tweet.read tweet.write users.read offline.access"

    def _token_lifetime(self) -> int:
        return X_TOKEN_LIFETIME

    def _new_token(self) -> str:
        return secrets.token_urlsafe(60)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/i/oauth2/authorize", self._authorize, name="authorize")
        app.router.add_post("/2/oauth2/token", self._token, name="token")
        app.router.add_post("/2/oauth2/revoke", self._revoke, name="revoke")
        app.router.add_get("/2/users/me", self._me, name="me")
        app.router.add_post("/2/tweets", self._create_tweet, name="create_tweet")
        app.router.add_delete("/2/tweets/{id}", self._delete_tweet, name="delete_tweet")

    # ---------------------------------------------------------------------------------------------------
    # rate limits

    def _who(self, request: web.Request) -> str:
        token = self._bearer(request)
        info = self.tokens.get(token) if token else None
        return info.subject if info else f"app:{request.remote}"

    def _bucket(self, route: str, who: str) -> _Bucket:
        now = int(time.time())
        bucket = self._buckets.get((route, who))
        if bucket is None or bucket.reset <= now:
            bucket = _Bucket(reset=now + X_RATE_WINDOW)
            self._buckets[(route, who)] = bucket
        return bucket

    def _finish(self, request: web.Request, call: SocialCall, response: web.StreamResponse) -> None:
        limit = self.rate_limits.get(call.route)
        if limit is None or not call.path.startswith("/2/"):
            return
        bucket = self._bucket(call.route, self._who(request))
        capped = "0" in (response.headers.get(f"x-{who}-limit-24hour-remaining") for who in ("app", "user"))
        remaining = 0 if response.status == 429 and not capped else max(limit - bucket.used, 0)
        response.headers.setdefault("x-rate-limit-limit", str(limit))
        response.headers.setdefault("x-rate-limit-remaining", str(remaining))
        response.headers.setdefault("x-rate-limit-reset", str(bucket.reset))

    def _spend(self, request: web.Request) -> web.Response | None:
        """Count the call against its window; a 429 when the window is used up."""
        route = _call(request).route
        limit = self.rate_limits.get(route)
        if limit is None:
            return None
        bucket = self._bucket(route, self._who(request))
        if bucket.used >= limit:
            return self._problem(429, "Too Many Requests", "Too Many Requests")
        bucket.used += 1
        return None

    def _spend_daily(self, who: str) -> tuple[dict[str, str], bool]:
        """Count a post against the 24-hour caps: the usage headers, and whether a cap was already used up."""
        headers: dict[str, str] = {}
        exceeded = False
        now = int(time.time())
        for scope, key, limit in (("app", "app", self.app_daily_limit), ("user", who, self.user_daily_limit)):
            if limit is None:
                continue
            window = self._daily.get(key)
            if window is None or window.reset <= now:
                window = self._daily[key] = _Bucket(reset=now + 86_400)
            if window.used >= limit:
                exceeded = True
            headers[f"x-{scope}-limit-24hour-limit"] = str(limit)
            headers[f"x-{scope}-limit-24hour-reset"] = str(window.reset)
        if not exceeded:
            for scope, key in (("app", "app"), ("user", who)):
                if f"x-{scope}-limit-24hour-limit" in headers:
                    self._daily[key].used += 1
        for scope, key, limit in (("app", "app", self.app_daily_limit), ("user", who, self.user_daily_limit)):
            if limit is not None:
                headers[f"x-{scope}-limit-24hour-remaining"] = str(max(limit - self._daily[key].used, 0))
        return headers, exceeded

    # ---------------------------------------------------------------------------------------------------
    # errors

    @staticmethod
    def _problem(status: int, title: str, detail: str, type_: str = "about:blank") -> web.Response:
        return _json({"title": title, "detail": detail, "type": type_, "status": status}, status=status)

    @staticmethod
    def _oauth_error(description: str, *, error: str = "invalid_request", status: int = 400) -> web.Response:
        return _json({"error": error, "error_description": description}, status=status)

    def _failure_response(self, call: SocialCall, failure: _Failure) -> web.StreamResponse:
        if failure.json is not None:
            return _json(failure.json, status=failure.status)
        try:
            phrase = HTTPStatus(failure.status).phrase
        except ValueError:
            phrase = "Error"
        return self._problem(failure.status, phrase, phrase)

    def _invalid_request(self, message: str, parameters: dict[str, list[str]] | None = None) -> web.Response:
        err: dict[str, Any] = {"message": message}
        if parameters:
            err["parameters"] = parameters
        return _json(
            {
                "errors": [err],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
            status=400,
        )

    # ---------------------------------------------------------------------------------------------------
    # OAuth

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.authorization_requests.append(q)
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != self.client_id or not self._redirect_allowed(redirect_uri):
            return _html_page(400, "Something went wrong. You weren't able to give access to the App.")
        state = q.get("state", "")
        back = {"state": state} if state else {}
        method = q.get("code_challenge_method", "plain")
        challenge = q.get("code_challenge", "")
        if q.get("response_type") != "code" or not challenge or method not in ("S256", "plain"):
            return _redirect(
                redirect_uri,
                {
                    "error": "invalid_request",
                    "error_description": "Missing or invalid response_type / code_challenge",
                    **back,
                },
            )
        if self._take_denial():
            return _redirect(redirect_uri, {"error": "access_denied", **back})
        code = secrets.token_urlsafe(60)
        self.codes[code] = _AuthCode(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            subject=self.consenting,
            scope=_split_scope(q.get("scope", "")),
            code_challenge=challenge,
            code_challenge_method=method,
        )
        return _redirect(redirect_uri, {**back, "code": code})

    def _client(
        self, request: web.Request, form: Mapping[str, str]
    ) -> tuple[str | None, web.Response | None]:
        """Client authentication: HTTP Basic (checked) or, for a public client, `client_id` in the form."""
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            client_id, _, secret = decoded.partition(":")
            if client_id != self.client_id or secret != self.client_secret:
                return None, self._oauth_error(
                    "Missing valid authorization header", error="unauthorized_client", status=401
                )
            return client_id, None
        if form.get("client_id") == self.client_id:
            return self.client_id, None
        return None, self._oauth_error(
            "Missing valid authorization header", error="unauthorized_client", status=401
        )

    def _grant(self, subject: str, scope: tuple[str, ...], client_id: str) -> dict[str, Any]:
        access = self.issue_token(subject, scope=" ".join(scope), client_id=client_id)
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": X_TOKEN_LIFETIME,
            "access_token": access,
            "scope": " ".join(scope),
        }
        if "offline.access" in scope:
            refresh = secrets.token_urlsafe(60)
            self.refresh_tokens[refresh] = FakeToken(
                subject=subject, scope=scope, expires_at=time.time() + 180 * 86400, client_id=client_id
            )
            body["refresh_token"] = refresh
        return body

    async def _token(self, request: web.Request) -> web.StreamResponse:
        limited = self._spend(request)
        if limited is not None:
            return limited
        form = _call(request).form or {}
        client_id, error = self._client(request, form)
        if error is not None or client_id is None:
            return error or self._oauth_error("Missing valid authorization header")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.get(form.get("code", ""))
            if code is None or code.used or code.client_id != client_id:
                return self._oauth_error("Value passed for the authorization code was invalid.")
            if form.get("redirect_uri") != code.redirect_uri:
                return self._oauth_error(
                    "Value passed for the redirect uri did not match the uri of the grant."
                )
            verifier = form.get("code_verifier", "")
            expected = verifier if code.code_challenge_method == "plain" else pkce_challenge(verifier)
            if not verifier or not secrets.compare_digest(expected, code.code_challenge or ""):
                return self._oauth_error("Value passed for the authorization code was invalid.")
            code.used = True
            return _json(self._grant(code.subject, code.scope, client_id))
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            grant = self.refresh_tokens.get(refresh)
            if grant is None or grant.client_id != client_id or grant.expired:
                return self._oauth_error("Value passed for the token was invalid.")
            del self.refresh_tokens[refresh]  # X rotates refresh tokens
            return _json(self._grant(grant.subject, grant.scope, client_id))
        return self._oauth_error("Value passed for the grant type was invalid.")

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        limited = self._spend(request)
        if limited is not None:
            return limited
        form = _call(request).form or {}
        _, error = self._client(request, form)
        if error is not None:
            return error
        token = form.get("token", "")
        if not token:
            return self._oauth_error("Missing required parameter [token].")
        if self.tokens.pop(token, None) is not None or self.refresh_tokens.pop(token, None) is not None:
            self.revoked.append(token)
        return _json({"revoked": True})

    # ---------------------------------------------------------------------------------------------------
    # API

    def _authenticate(
        self, request: web.Request, *needed: str
    ) -> tuple[FakeToken | None, web.Response | None]:
        token = self._bearer(request)
        info = self.tokens.get(token) if token else None
        if info is None or info.expired:
            return None, self._problem(401, "Unauthorized", "Unauthorized")
        missing = [s for s in needed if s not in info.scope]
        if missing:
            return None, self._problem(
                403,
                "Forbidden",
                "You are not permitted to perform this action. Missing scopes: " + ", ".join(missing),
            )
        return info, None

    async def _me(self, request: web.Request) -> web.StreamResponse:
        info, error = self._authenticate(request, "users.read", "tweet.read")
        if error is not None or info is None:
            return error or self._problem(401, "Unauthorized", "Unauthorized")
        limited = self._spend(request)
        if limited is not None:
            return limited
        return _json({"data": dict(self.users[info.subject])})

    async def _create_tweet(self, request: web.Request) -> web.StreamResponse:
        info, error = self._authenticate(request, "tweet.write", "tweet.read", "users.read")
        if error is not None or info is None:
            return error or self._problem(401, "Unauthorized", "Unauthorized")
        limited = self._spend(request)
        if limited is not None:
            return limited
        body = _call(request).json
        if not isinstance(body, dict):
            return self._invalid_request("Request body must be a JSON object.")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return self._invalid_request(
                "text: text is required when media is not present", {"text": [repr(text)]}
            )
        weighted = x_weighted_length(text)
        if weighted > X_MAX_WEIGHTED_LENGTH:
            return self._invalid_request(
                f"Your Tweet text is too long: {weighted} weighted characters, the limit is "
                f"{X_MAX_WEIGHTED_LENGTH}.",
                {"text": [text]},
            )
        for tweet in self.tweets.values():
            if tweet["author_id"] == info.subject and tweet["text"] == text:
                return _json(
                    {
                        "detail": "You are not allowed to create a Tweet with duplicate content.",
                        "type": "about:blank",
                        "title": "Forbidden",
                        "status": 403,
                    },
                    status=403,
                )
        usage, exceeded = self._spend_daily(info.subject)
        if exceeded:
            response = self._problem(429, "Too Many Requests", "Too Many Requests")
            response.headers.update(usage)
            return response
        self._tweet_counter += 1
        tweet_id = str(self._tweet_counter)
        self.tweets[tweet_id] = {"id": tweet_id, "text": text, "author_id": info.subject, "body": body}
        data = {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}
        return _json(data, 201, headers=usage)

    async def _delete_tweet(self, request: web.Request) -> web.StreamResponse:
        info, error = self._authenticate(request, "tweet.write", "tweet.read", "users.read")
        if error is not None or info is None:
            return error or self._problem(401, "Unauthorized", "Unauthorized")
        limited = self._spend(request)
        if limited is not None:
            return limited
        tweet_id = request.match_info["id"]
        tweet = self.tweets.get(tweet_id)
        if tweet is None:
            return _json(
                {
                    "errors": [
                        {
                            "value": tweet_id,
                            "detail": f"Could not find tweet with id: [{tweet_id}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "id",
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                },
                status=404,
            )
        if tweet["author_id"] != info.subject:
            return self._problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
        if tweet_id in self.undeletable:
            return _json({"data": {"deleted": False}})
        self.deleted_tweets[tweet_id] = self.tweets.pop(tweet_id)
        return _json({"data": {"deleted": True}})
