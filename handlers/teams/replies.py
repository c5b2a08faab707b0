"""Answering the person who wrote or clicked, in Teams: a card in reply when they are in their 1:1 chat
with Relais; from a team's channel or a group chat, in that 1:1 chat (opened if needed), since Teams
shows a bot's replies there to everyone, and an answer can be personal (a share link, a connect link,
one's own figures). Slack shows these answers to the person alone; so does this."""

from __future__ import annotations

import logging

import aiohttp
from microsoft_agents.activity import Activity, ActivityTypes, Attachment, ConversationParameters
from microsoft_agents.hosting.core import ConnectorClientBase, TurnContext

from handlers.teams.membership import tenant_of
from handlers.teams.render import ADAPTIVE_CARD, Card

logger = logging.getLogger(__name__)


async def tell_privately(context: TurnContext, card: Card, *, summary: str | None = None) -> None:
    """`card` for the person alone: in reply in their 1:1 chat with Relais; from anywhere else, in that
    chat, opened through the turn's Bot Connector client (Teams gives the one that exists). Never sent
    where others would see it: when the chat cannot be opened, it is logged and not sent."""
    activity = context.activity
    fallback = card.get("fallbackText")
    message = Activity(
        type=ActivityTypes.message,
        summary=summary or (fallback if isinstance(fallback, str) else ""),
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
    )
    if activity.conversation is not None and activity.conversation.conversation_type == "personal":
        await context.send_activity(message)
        return
    client = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK's own key
    tenant = tenant_of(activity)
    if client is None or tenant is None or activity.from_property is None:
        logger.warning("an answer in Teams could not be told privately: not sent")
        return
    try:
        created = await client.conversations.create_conversation(
            ConversationParameters(
                is_group=False,
                agent=activity.recipient,
                members=[activity.from_property],
                tenant_id=tenant,
                channel_data={"tenant": {"id": tenant}},
            )
        )
        reference = activity.get_conversation_reference()
        assert reference.conversation is not None
        personal = reference.conversation.model_copy(
            update={"id": created.id, "conversation_type": "personal", "is_group": False}
        )
        message.apply_conversation_reference(
            reference.model_copy(update={"conversation": personal, "activity_id": None})
        )
        await client.conversations.send_to_conversation(created.id, message)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        logger.warning("an answer in Teams was not sent (%s: %.200r)", type(exc).__name__, str(exc))
