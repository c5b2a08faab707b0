"""Approve / Reject on a suggestion's review message."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import suggestions
from bot.services.members import language_of
from bot.services.posts import PostError
from handlers.slack.blocks.modals import QueueForm, build_queue_modal
from handlers.slack.deps import relais
from handlers.slack.identity import button_id, identify
from handlers.slack.suggestions import close_reviews
from handlers.slack.text import t
from models import Member, SuggestionState


async def handle_suggestion_approve(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Approving opens the queue modal prefilled with the suggested link; the suggestion is approved
    when the admin submits it (closing the modal leaves it pending)."""
    await ack()
    deps = relais(context)
    suggestion_id = button_id(action)
    if suggestion_id is None:
        return
    workspace, member, lang, admin = await identify(deps, client, body)
    if not admin:
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "not_admin", command="queue"))
        return
    async with deps.sessions() as session:
        try:
            suggestion = await suggestions.get(
                session, workspace_id=workspace.id, suggestion_id=suggestion_id
            )
        except PostError as error:
            await client.chat_postMessage(
                channel=member.external_id, text=t(lang, error.code, **error.params)
            )
            return
    if suggestion.state is not SuggestionState.PENDING:
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "suggestion_already_decided"))
        return
    default = workspace.default_channel or deps.settings.relais_channel
    form = QueueForm(url=suggestion.url, channels=(default,) if default else (), suggestion_id=suggestion.id)
    await client.views_open(trigger_id=body["trigger_id"], view=build_queue_modal(form, lang))


async def handle_suggestion_reject(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    deps = relais(context)
    suggestion_id = button_id(action)
    if suggestion_id is None:
        return
    workspace, member, lang, admin = await identify(deps, client, body)
    if not admin:
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "not_admin", command="queue"))
        return
    async with deps.sessions() as session:
        try:
            suggestion = await suggestions.reject(
                session,
                workspace_id=workspace.id,
                suggestion_id=suggestion_id,
                admin=member,
                now=deps.clock.now(),
            )
        except PostError as error:
            await client.chat_postMessage(
                channel=member.external_id, text=t(lang, error.code, **error.params)
            )
            return
        author = await session.get_one(Member, suggestion.member_id)
        await session.commit()
    await close_reviews(
        client,
        suggestion=suggestion,
        author_id=author.external_id,
        decided_key="suggestion_rejected_note",
        admin=f"<@{member.external_id}>",
    )
    await client.chat_postMessage(
        channel=author.external_id,
        text=t(language_of(author), "suggestion_rejected_employee", url=suggestion.url),
    )
