"""Teams' one request URL at the door (`POST /api/messages`): nothing reaches the SDK unchecked.

In order: a request without a bearer token is refused from its headers (401), and one announcing a huge
body too (413), before a byte of the body is read; the body must arrive within a few seconds (408) and
be a JSON object (400); its Bot Framework token must be valid for it (`handlers.teams.auth`: 401, even
when the keys cannot be fetched); it must be an activity the SDK can read (400); a single-tenant bot
answers its own tenant only (403). Only then does the SDK's adapter run the turn. In anonymous mode (a
local client, no token) the request must come from this machine and the activity's `serviceUrl` must be
on it too (401 otherwise), since replies go there.

The SDK answers 202, or the invoke's answer. When it fails before the turn runs (the bot's own token
cannot be obtained from Microsoft Entra ID), the answer is 503: nothing was done, and the Bot Framework
may deliver the activity again.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import warnings
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.inbound import announced_too_large, read_body, refuse
from handlers.teams.agent import TeamsAgent
from handlers.teams.auth import BotFrameworkTokens, is_loopback
from handlers.teams.membership import tenant_of

logger = logging.getLogger(__name__)


class TeamsIngress:
    """Checks, reads, authenticates and parses a request to `/api/messages`, then hands it to the SDK.

    `tokens` is None in anonymous mode (`RELAIS_TEAMS_ANONYMOUS`)."""

    def __init__(
        self,
        adapter: CloudAdapter,
        agent: TeamsAgent,
        tokens: BotFrameworkTokens | None,
        *,
        tenant: str | None = None,
    ) -> None:
        """`tenant`: the one tenant a single-tenant bot serves (None: any)."""
        self.adapter = adapter
        self._agent = agent
        self._tokens = tokens
        self._tenant = tenant.lower() if tenant else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        if self._tokens is not None and not _bearer(authorization):
            return refuse(401, "invalid request")
        if self._tokens is None and not _on_this_machine(request.remote):
            logger.warning("anonymous Teams request refused: it does not come from this machine")
            return refuse(401, "invalid request")
        too_large = announced_too_large(request)
        if too_large is not None:
            return too_large
        raw = await read_body(request)
        if isinstance(raw, web.Response):
            return raw
        body = _json_object(raw, request.charset)
        if body is None:
            return refuse(400, "the request body is not an activity")
        identity = await self._identity(authorization, body)
        if identity is None:
            return refuse(401, "invalid request")
        try:
            activity = Activity.model_validate(body)
        except Exception as exc:  # pydantic's errors, and the SDK's own checks raise a bare Exception
            logger.warning("authenticated Teams request that is not an activity (%s)", type(exc).__name__)
            return refuse(400, "the request body is not an activity")
        tenant = tenant_of(activity)
        if self._tenant is not None and tenant is not None and tenant.lower() != self._tenant:
            logger.warning("Teams activity from another tenant refused: this bot is single-tenant")
            return refuse(403, "this Relais serves another tenant")
        with warnings.catch_warnings():  # the SDK's aiohttp adapter reads this plain key, not a RequestKey
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request["claims_identity"] = identity
        try:
            response = await self.adapter.process(request, self._agent)
        except Exception:
            logger.exception("Teams activity not processed: the SDK failed before its turn")
            return web.json_response(
                {"error": "temporarily unavailable"}, status=503, headers={"Retry-After": "5"}
            )
        return response if response is not None else web.Response(status=202)  # typed Optional only

    async def _identity(self, authorization: str | None, body: dict[str, Any]) -> ClaimsIdentity | None:
        if self._tokens is not None:
            return await self._tokens.identity(authorization, body)
        if not is_loopback(body.get("serviceUrl")):
            logger.warning("anonymous Teams activity refused: its serviceUrl is not on this machine")
            return None
        return ClaimsIdentity({})  # no claims: the SDK then replies without a token


def _on_this_machine(remote: str | None) -> bool:
    """Whether the request's peer is this machine: anonymous mode serves local clients only (anyone else
    could act as any person, and make Relais call any local port)."""
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _bearer(authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _json_object(raw: bytes, charset: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode(charset or "utf-8"))
    except (LookupError, ValueError, RecursionError):  # unknown charset, bad bytes or JSON, too deep
        return None
    return value if isinstance(value, dict) else None
