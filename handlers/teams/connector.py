"""Relais's calls to the Bot Connector (a conversation's `serviceUrl`): create a 1:1 conversation, send a
message, update one. Through the Agents SDK's own `ConnectorClient`, used directly rather than through
the adapter's proactive path (which posts as a reply to a random id, cannot create a conversation in
anonymous mode, and reports errors to the turn's error handler: docs/teams-sdk-notes.md §4).

Every failure is a `ConnectorError` with Teams' status, its error code when the body carries one, and
its `Retry-After`, so the notifier can say what happened in neutral terms. The SDK retries nothing; the
outbox does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiohttp
from microsoft_agents.activity import Activity, ConversationParameters
from microsoft_agents.hosting.core import AccessTokenProviderBase, ConnectorClient

logger = logging.getLogger(__name__)
T = TypeVar("T")

BOT_CONNECTOR: Final = "https://api.botframework.com"
SCOPES: Final = [f"{BOT_CONNECTOR}/.default"]
TIMEOUT_SECONDS: Final = 20.0
# The SDK cuts conversation ids to 150 characters in every URL (1.9.0's default); Teams' are longer.
MAX_CONVERSATION_ID: Final = 4096
# What Microsoft Entra ID answers when it refuses the bot's own credentials (MSAL's error codes).
CREDENTIAL_ERRORS: Final = ("invalid_client", "unauthorized_client")


@dataclass(eq=False)
class ConnectorError(Exception):
    """A call that failed: `status` is the HTTP status (None: no answer, or no token for the bot),
    `code` Teams' error code from the body (e.g. "BotNotInConversationRoster"), `retry_after` the
    seconds Teams asked to wait; `credentials` says Microsoft Entra ID refused the bot's own
    credentials."""

    status: int | None
    code: str | None = None
    retry_after: float | None = None
    detail: str = ""
    credentials: bool = False

    def __str__(self) -> str:
        return self.detail


class Connector:
    """`tokens` gives the bot's token for the Bot Connector (an empty one in anonymous mode: no
    `Authorization` header, as a local client such as the Agents Playground expects)."""

    def __init__(self, tokens: AccessTokenProviderBase, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._tokens = tokens
        self._timeout = timeout

    async def create_conversation(
        self, service_url: str, *, bot: dict[str, Any], member_id: str, tenant_id: str
    ) -> str:
        """The id of the bot's 1:1 conversation with `member_id` (a Teams user id, `29:…`), created if
        needed (Teams answers the same id for the same person)."""
        parameters = ConversationParameters.model_validate(
            {
                "isGroup": False,
                "bot": bot,
                "members": [{"id": member_id}],
                "tenantId": tenant_id,
                "channelData": {"tenant": {"id": tenant_id}},
            }
        )
        async with self._client(service_url) as client:
            created = await _call(client.conversations.create_conversation(parameters))
        if not created.id:
            raise ConnectorError(None, detail="the Bot Connector created a conversation without an id")
        return str(created.id)

    async def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str | None:
        """Post `activity` (Bot Framework JSON) in the conversation; the new message's id."""
        async with self._client(service_url) as client:
            sent = await _call(
                client.conversations.send_to_conversation(conversation_id, Activity.model_validate(activity))
            )
        return sent.id

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> str | None:
        """Replace the message `activity_id` with `activity`, in place."""
        body = Activity.model_validate({**activity, "id": activity_id})
        async with self._client(service_url) as client:
            updated = await _call(client.conversations.update_activity(conversation_id, activity_id, body))
        return updated.id or activity_id

    def _client(self, service_url: str) -> _Client:
        return _Client(self, service_url)

    async def _token(self) -> str:
        try:
            return await self._tokens.get_access_token(BOT_CONNECTOR, SCOPES)
        except Exception as exc:  # MSAL: ValueError with Entra's answer; requests: unreachable
            refused = any(code in str(exc) for code in CREDENTIAL_ERRORS)
            logger.warning("no Bot Connector token for the bot: %s", type(exc).__name__)
            raise ConnectorError(
                None, detail=f"no token for the bot ({type(exc).__name__})", credentials=refused
            ) from exc


class _Client:
    """One `ConnectorClient` for one service URL, with its own session, closed after use."""

    def __init__(self, connector: Connector, service_url: str) -> None:
        self._connector = connector
        self._base = service_url if service_url.endswith("/") else service_url + "/"
        self._client: ConnectorClient | None = None

    async def __aenter__(self) -> ConnectorClient:
        token = await self._connector._token()
        session = aiohttp.ClientSession(
            base_url=self._base, timeout=aiohttp.ClientTimeout(total=self._connector._timeout)
        )
        self._client = ConnectorClient(self._base, token, session=session)
        operations = self._client.conversations
        operations._max_conversation_id_length = MAX_CONVERSATION_ID  # type: ignore[attr-defined]
        return self._client

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.close()


async def _call(call: Awaitable[T]) -> T:
    """Await an SDK call, its failures as `ConnectorError`."""
    try:
        result = await call
    except aiohttp.ClientResponseError as exc:
        code = _error_code(exc.message)
        retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
        detail = f"{exc.status} {code or exc.message or ''}".strip()
        raise ConnectorError(exc.status, code=code, retry_after=retry_after, detail=detail) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ConnectorError(None, detail=type(exc).__name__) from exc
    return result


def _error_code(body: str) -> str | None:
    """Teams' error code from its body `{"error": {"code": …, "message": …}}` (the SDK puts the body in
    the exception's message; for a created conversation, only the reason phrase)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else None


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: the outbox's back-off decides
