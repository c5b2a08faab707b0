"""Sends outbox messages to Teams: renders each kind's neutral message (`bot.messages.outbox`) as an
Adaptive Card and posts it through the Bot Connector, proactively, with the conversation reference the
core stored when Relais met the person or the channel; reports the outcome in neutral terms.

Destinations are Teams' own ids as the core knows them: a member's Microsoft Entra object id, or a
channel's conversation id. A member is written to in their 1:1 chat with the bot; when the core only
knows them from a team (the reference it stored is the team's), the chat is created first
(`POST /v3/conversations`) and its reference remembered, so it is created once. A message that edits
an earlier one (`EDIT_KINDS`) replaces it in place (`PUT …/activities/{id}`); `Delivered.channel` is the
destination itself, the key an edit comes back with.

Teams' limits (per bot per conversation: 7 a second, 8 in 2 s, 60 in 30 s, 1,800 an hour) hold by the
rate policy, which the outbox applies to each destination across every drainer: at most 5 at once, then
one every 2.05 s (1,800 an hour needs 2 s apart, sustained). The 50 requests a second per app per tenant
hold across every drainer of every process too: each request to the Bot Connector (a send, an edit, a
1:1 chat opened) first takes a slot of the tenant's shared pace (`bot.services.outbox.WorkspacePace`,
`TEAMS_TENANT_RATE`: 40 a second in bursts of 5, so at most 45 in any second; the web process's replies
in the turns it answers take the same pace, `handlers.teams.replies`). A 429 is `rate_limited` with
Teams' `Retry-After` (1 s without one); 412 and 5xx are `transient`, with Teams' `Retry-After` when it
gives one, else the outbox's backoff; the outbox adds the jitter to either (`bot.services.outbox.record`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol

from microsoft_agents.hosting.core import AccessTokenProviderBase

from bot.clock import Clock
from bot.db import Sessions
from bot.messages import Message
from bot.messages.model import mentions
from bot.messages.outbox import EDIT_KINDS, message_for
from bot.notifier import (
    CHANNEL_GONE,
    CHANNEL_UNUSABLE,
    MALFORMED,
    NOT_A_MEMBER,
    RATE_LIMITED,
    RECIPIENT_GONE,
    REFUSED,
    TOKEN_REVOKED,
    TOO_BIG,
    TRANSIENT,
    Delivered,
    RatePolicy,
)
from bot.services.outbox import WorkspacePace
from handlers.teams.auth import is_loopback
from handlers.teams.connector import Connector, ConnectorError
from handlers.teams.fit import MAX_MESSAGE_BYTES, size
from handlers.teams.references import StoredConversations
from handlers.teams.render import attachment, render

logger = logging.getLogger(__name__)

TEAMS_RATE: Final = RatePolicy(interval=timedelta(seconds=2.05), burst=5)
# Teams: 50 requests a second per app per tenant. At most burst + 1 s / interval = 45 in any second.
TEAMS_TENANT_RATE: Final = RatePolicy(interval=timedelta(milliseconds=25), burst=5)
TENANT_REQUESTS_PER_SECOND: Final = 45  # the same ceiling, kept in one process (`TenantPacer`)
TOKEN_RETRY_SECONDS: Final = 3600
# What the operator is told to do when Teams or Microsoft Entra ID refuses the bot (`Delivered.remedy`).
CREDENTIALS_REMEDY: Final = (
    "The bot's credentials were refused (a wrong or expired client secret, a deleted app registration) "
    "or the tenant's admin turned the app off: check MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and "
    "MICROSOFT_APP_TENANT_ID (or the managed identity), and the app's status in the Teams admin center"
)
SUMMARY_LENGTH: Final = 1000
# Teams' codes for an app the tenant's admin turned off: nothing about the recipient.
DISABLED_CODES: Final = frozenset({"BotDisabledByAdmin"})
MESSAGE_GONE_CODES: Final = frozenset({"ActivityNotFoundInConversation"})


class Conversations(Protocol):
    """What the notifier needs from the core: the conversation references it stored (by workspace and
    destination key), remembering a new one, and members' display names (for mentions)."""

    async def reference_for(self, workspace_id: int, key: str) -> dict[str, Any] | None: ...

    async def remember(self, workspace_id: int, key: str, reference: dict[str, Any]) -> None: ...

    async def names(self, workspace_id: int, external_ids: Collection[str]) -> Mapping[str, str]: ...


class TenantPace(Protocol):
    """Asked before each request to the Bot Connector for a workspace (a tenant): returns when it may
    be made."""

    async def wait(self, workspace_id: int) -> None: ...


class TenantPacer:
    """At most `per_second` calls a second for one workspace (tenant), in this process alone: a call
    over it waits (less than a second) for the oldest to leave the window. For a notifier built without
    the core's database (a test of a few sends); the platform's notifier shares its pace with every
    process (`TeamsNotifier.on_core`)."""

    def __init__(
        self,
        per_second: int = TENANT_REQUESTS_PER_SECOND,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[int, deque[float]] = {}

    async def wait(self, workspace_id: int) -> None:
        calls = self._calls.setdefault(workspace_id, deque())
        while True:
            now = self._clock()
            while calls and calls[0] <= now - 1.0:
                calls.popleft()
            if len(calls) < self._per_second:
                calls.append(now)
                return
            await self._sleep(calls[0] + 1.0 - now)


@dataclass(frozen=True)
class _Target:
    """Where a destination's messages go, from its stored reference."""

    service_url: str
    conversation_id: str
    tenant_id: str | None
    bot: dict[str, Any]
    member: bool  # a person (their 1:1 chat), else a channel or a group chat
    user_id: str | None  # the person's Teams id (`29:…`), to create their 1:1 chat
    personal: bool  # the conversation is the person's 1:1 chat already

    @property
    def complete(self) -> bool:
        """Whether Relais can post: an address, a conversation, and for a person known from a team
        only, what opening their chat needs."""
        if not (self.service_url and self.conversation_id):
            return False
        return not self.member or self.personal or bool(self.user_id and self.tenant_id)

    @classmethod
    def of(cls, destination: str, reference: Mapping[str, Any]) -> _Target:
        conversation = reference.get("conversation") or {}
        user = reference.get("user") or {}
        member = user.get("aadObjectId") == destination
        conversation_id = str(conversation.get("id") or "")
        if not member:
            # A thread of a channel (`…;messageid=<root>`) is the channel: a push starts a new post.
            conversation_id = conversation_id.split(";messageid=", 1)[0]
        return cls(
            service_url=str(reference.get("serviceUrl") or ""),
            conversation_id=conversation_id,
            tenant_id=conversation.get("tenantId"),
            bot=dict(reference.get("bot") or {}),
            member=member,
            user_id=user.get("id"),
            personal=conversation.get("conversationType") == "personal",
        )


class TeamsNotifier:
    rate = TEAMS_RATE

    def __init__(
        self,
        conversations: Conversations,
        connector: Connector,
        *,
        pace: TenantPace | None = None,
        loopback_only: bool = False,
    ) -> None:
        """`pace` is asked before each request (by default a `TenantPacer`, in this process alone).
        `loopback_only` (anonymous mode: Relais has no credentials and serves local clients only)
        refuses any service URL that is not on this machine, as the endpoint does."""
        self._conversations = conversations
        self._connector = connector
        self._pace = pace or TenantPacer()
        self._loopback_only = loopback_only

    @classmethod
    def on_core(
        cls,
        sessions: Sessions,
        tokens: AccessTokenProviderBase,
        *,
        loopback_only: bool,
        clock: Clock | None = None,
    ) -> TeamsNotifier:
        """The notifier the platform serves: the core's records through `sessions`, the bot's tokens from
        `tokens` (`handlers.teams.hosting.token_provider`), each tenant's requests paced with every other
        process's through the same database."""
        return cls(
            StoredConversations(sessions, clock=clock),
            Connector(tokens),
            pace=WorkspacePace(sessions, TEAMS_TENANT_RATE),
            loopback_only=loopback_only,
        )

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        message = message_for(kind, payload)
        if message is None:
            logger.error("no renderer for outbox kind %r", kind)
            return Delivered(ok=False, error=REFUSED, detail=f"unknown kind {kind}")
        reference = await self._conversations.reference_for(workspace_id, destination)
        if reference is None:
            logger.warning("no conversation reference for %s in workspace %s", destination, workspace_id)
            return Delivered(ok=False, error=REFUSED, detail="no conversation reference")
        target = _Target.of(destination, reference)
        if not target.complete:
            return Delivered(ok=False, error=REFUSED, detail="incomplete conversation reference")
        if self._loopback_only and not is_loopback(target.service_url):
            logger.warning(
                "anonymous mode: not sending to %s, which is not on this machine", target.service_url
            )
            return Delivered(
                ok=False, error=REFUSED, detail="serviceUrl not on this machine (anonymous mode)"
            )
        mentioned = mentions(message, "member") | mentions(message, "channel")
        names = await self._conversations.names(workspace_id, sorted(mentioned))
        activity = _activity(message, names, target)
        if size(activity) > MAX_MESSAGE_BYTES:
            logger.error("a %s message for Teams is %d bytes: not sent", kind, size(activity))
            return Delivered(ok=False, error=TOO_BIG, detail="MessageSizeTooBig (not sent)", cause=TOO_BIG)
        try:
            conversation_id = await self._conversation(workspace_id, destination, reference, target)
            activity["conversation"] = {"id": conversation_id}
            await self._pace.wait(workspace_id)
            if kind in EDIT_KINDS:
                message_id = str(payload["message_id"])
                await self._connector.update(target.service_url, conversation_id, message_id, activity)
            else:
                sent = await self._connector.send(target.service_url, conversation_id, activity)
                if not sent:
                    # Teams answered without an id: the message cannot be edited later.
                    logger.warning("Teams gave no id for a %s message to %s", kind, destination)
                message_id = sent or ""
        except ConnectorError as error:
            return self._failed(error, kind=kind, destination=destination, member=target.member)
        return Delivered(ok=True, message_id=message_id or None, channel=destination)

    async def _conversation(
        self, workspace_id: int, destination: str, reference: dict[str, Any], target: _Target
    ) -> str:
        """The conversation to post in: a member's 1:1 chat, created (once) and remembered when the core
        knew them only from a team."""
        if not target.member or target.personal:
            return target.conversation_id
        assert target.user_id is not None  # target.complete
        assert target.tenant_id is not None
        await self._pace.wait(workspace_id)
        conversation_id = await self._connector.create_conversation(
            target.service_url, bot=target.bot, member_id=target.user_id, tenant_id=target.tenant_id
        )
        personal = {
            **reference,
            "conversation": {
                "conversationType": "personal",
                "id": conversation_id,
                "tenantId": target.tenant_id,
            },
        }
        personal.pop("activityId", None)
        await self._conversations.remember(workspace_id, destination, personal)
        return conversation_id

    def _failed(self, error: ConnectorError, *, kind: str, destination: str, member: bool) -> Delivered:
        code = neutral_error(error, member=member)
        detail = error.detail or code
        if code == RATE_LIMITED:
            wait = error.retry_after if error.retry_after is not None else 1.0
            return Delivered(ok=False, error=code, detail=detail, retry_after=wait)
        if code == TOKEN_REVOKED:
            logger.error("Teams refuses Relais's credentials (%s): messages wait", detail)
            return Delivered(
                ok=False,
                error=code,
                detail=detail,
                retry_after=TOKEN_RETRY_SECONDS,
                remedy=CREDENTIALS_REMEDY,
            )
        logger.warning("Teams refused a %s message to %s: %s", kind, destination, detail)
        cause = neutral_cause(error, code)
        return Delivered(ok=False, error=code, detail=detail, retry_after=error.retry_after, cause=cause)


def neutral_error(error: ConnectorError, *, member: bool) -> str:
    """Teams' answer as a neutral code (`bot.notifier`). 403: the bot is no longer in the conversation
    (uninstalled, or the person blocked it); 404: the conversation is gone, or the message to edit."""
    status = error.status
    if error.credentials or status == 401 or error.code in DISABLED_CODES:
        return TOKEN_REVOKED
    if status == 429:
        return RATE_LIMITED
    if status == 413:
        return TOO_BIG
    if status == 404 and error.code in MESSAGE_GONE_CODES:
        return REFUSED
    if status in (403, 404):
        return RECIPIENT_GONE if member else CHANNEL_UNUSABLE
    if status is not None and 400 <= status < 500 and status != 412:
        return REFUSED
    return TRANSIENT  # no answer, 412, 5xx


def neutral_cause(error: ConnectorError, code: str) -> str | None:
    """What the admins are told went wrong (`bot.notifier.CAUSES`), for Teams' answer of `code`: a
    channel that answers 404 is gone, 403 no longer has the bot (removed from the team, the app
    uninstalled); a message Teams finds too big, or malformed (400), is a bug in Relais to report."""
    if code == CHANNEL_UNUSABLE:
        return CHANNEL_GONE if error.status == 404 else NOT_A_MEMBER
    if code == TOO_BIG:
        return TOO_BIG
    if code == REFUSED and error.status == 400:
        return MALFORMED
    return None


def _activity(message: Message, names: Mapping[str, str], target: _Target) -> dict[str, Any]:
    """The Bot Framework activity for a card: the summary in `summary`, no `text` (a client shows text
    and a card as two messages, and the card could not be updated)."""
    summary, card = render(message, names=names)
    activity: dict[str, Any] = {
        "type": "message",
        "summary": summary[:SUMMARY_LENGTH],
        "attachments": [attachment(card)],
        "channelId": "msteams",
        "serviceUrl": target.service_url,
        "conversation": {"id": target.conversation_id},
    }
    if target.bot:
        activity["from"] = target.bot
    return activity
