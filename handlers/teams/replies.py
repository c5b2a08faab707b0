"""Answering the person who wrote or clicked, in Teams: a card in reply when they are in their 1:1 chat
with Relais; from a team's channel or a group chat, in that 1:1 chat (opened if needed), since Teams
shows a bot's replies there to everyone, and an answer can be personal (a share link, a connect link,
one's own figures). Slack shows these answers to the person alone; so does this.

An answer is sent inside the turn (Teams waits for it), so it is not an outbox row; it keeps Teams'
limits all the same. Each request first takes a slot of the tenant's shared pace (`ReplyPace`: the
notifier's, `bot.services.outbox.WorkspacePace`), and one that Teams refuses for a while (429, 412,
502, 503, 504, or no connection at all) is tried again after Teams' `Retry-After` (else a short backoff
with jitter), at most `RETRIES` times and `RETRY_SECONDS` in all, so that a turn never hangs: an invoke
must be answered within Teams' limits. An answer still refused is logged (status and Teams' code,
nothing more); a message turn then ends quietly, an invoke's raises (its caller answers that something
went wrong).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeVar

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationParameters,
    ResourceResponse,
)
from microsoft_agents.hosting.core import ConnectorClientBase, TurnContext

from bot.db import Sessions
from bot.flows import membership
from handlers.teams.fit import SUMMARY_LENGTH
from handlers.teams.membership import tenant_of
from handlers.teams.render import ADAPTIVE_CARD, Card

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRIES: Final = 2
RETRY_SECONDS: Final = 3.0  # all the waits of one request together
BACKOFF_SECONDS: Final = (0.5, 1.0)  # without Retry-After, stretched by up to a quarter (jitter)
RETRIED_STATUSES: Final = frozenset({412, 429, 502, 503, 504})
# Where the turn keeps its `ReplyPace` (`TurnContext.turn_state`), set by the agent.
REPLY_PACE: Final = "relais.reply_pace"


class TenantPace(Protocol):
    async def wait(self, workspace_id: int) -> None: ...


class ReplyPace:
    """The tenant's shared pace (`pace`, by workspace id), asked by tenant id: the workspace's id read
    once from the database (a tenant Relais does not know yet has no pace to keep)."""

    def __init__(self, sessions: Sessions, pace: TenantPace) -> None:
        self._sessions = sessions
        self._pace = pace
        self._workspaces: dict[str, int] = {}

    async def wait(self, tenant: str | None) -> None:
        if tenant is None:
            return
        workspace_id = self._workspaces.get(tenant)
        if workspace_id is None:
            workspace_id = await membership.workspace_id(self._sessions, platform="teams", workspace=tenant)
            if workspace_id is None:
                return
            self._workspaces[tenant] = workspace_id
        await self._pace.wait(workspace_id)


class NotTold(Exception):
    """An answer Teams kept refusing (or that could not be sent privately)."""


async def tell_privately(context: TurnContext, card: Card, *, summary: str | None = None) -> None:
    """`card` for the person alone: in reply in their 1:1 chat with Relais; from anywhere else, in that
    chat, opened through the turn's Bot Connector client (Teams gives the one that exists). Never sent
    where others would see it: when the chat cannot be opened, it is logged and not sent. Raises
    `NotTold` in an invoke's turn when the answer could not be sent (a message's turn goes on)."""
    activity = context.activity
    fallback = card.get("fallbackText")
    message = Activity(
        type=ActivityTypes.message,
        summary=(summary or (fallback if isinstance(fallback, str) else ""))[:SUMMARY_LENGTH],
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
    )
    try:
        await _tell(context, message)
    except NotTold as exc:
        logger.warning("an answer in Teams was not sent (%s)", exc)
        if activity.type == ActivityTypes.invoke:
            raise


async def _tell(context: TurnContext, message: Activity) -> None:
    activity = context.activity
    if activity.conversation is not None and activity.conversation.conversation_type == "personal":
        await _patiently(context, lambda: context.send_activity(message))
        return
    client = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK's own key
    tenant = tenant_of(activity)
    if client is None or tenant is None or activity.from_property is None:
        raise NotTold("it could not be told privately")
    created = await _patiently(
        context,
        lambda: client.conversations.create_conversation(
            ConversationParameters(
                is_group=False,
                agent=activity.recipient,
                members=[activity.from_property],
                tenant_id=tenant,
                channel_data={"tenant": {"id": tenant}},
            )
        ),
    )
    reference = activity.get_conversation_reference()
    assert reference.conversation is not None
    personal = reference.conversation.model_copy(
        update={"id": created.id, "conversation_type": "personal", "is_group": False}
    )
    message.apply_conversation_reference(
        reference.model_copy(update={"conversation": personal, "activity_id": None})
    )

    def sent() -> Awaitable[ResourceResponse]:
        return client.conversations.send_to_conversation(created.id, message)

    await _patiently(context, sent)


async def _patiently(context: TurnContext, request: Callable[[], Awaitable[T]]) -> T:
    """`request` to the Bot Connector, in the tenant's pace, tried again while Teams refuses it for a
    while (within `RETRIES` and `RETRY_SECONDS`); `NotTold` when it still fails."""
    pace = context.turn_state.get(REPLY_PACE)
    waited = 0.0
    for attempt in range(RETRIES + 1):
        if isinstance(pace, ReplyPace):
            await pace.wait(tenant_of(context.activity))
        try:
            return await request()
        except aiohttp.ClientResponseError as exc:
            failure, retried = (
                f"{exc.status} {_code(exc.message) or ''}".strip(),
                exc.status in RETRIED_STATUSES,
            )
            delay = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
        except aiohttp.ClientConnectorError as exc:  # no connection: nothing reached Teams
            failure, retried, delay = type(exc).__name__, True, None
        except (aiohttp.ClientError, TimeoutError) as exc:  # it may have reached Teams: not sent twice
            failure, retried, delay = type(exc).__name__, False, None
        except ValueError as exc:  # the SDK's own check of what it was given
            raise NotTold(type(exc).__name__) from exc
        if delay is None:
            delay = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)] * (1 + random.random() / 4)  # noqa: S311  # jitter
        if not retried or attempt == RETRIES or waited + delay > RETRY_SECONDS:
            raise NotTold(f"Teams answered {failure}, {attempt + 1} attempt(s)")
        waited += delay
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def _code(body: str) -> str | None:
    """Teams' error code from its body `{"error": {"code": …}}` (never the message: it may quote what
    was sent)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code)[:64] if code else None


def _seconds(value: str | None) -> float | None:
    """Teams' `Retry-After` in seconds (an HTTP date: None, the backoff decides)."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None
