"""The queue modal (admins) and the Edit & share modal, submitted: Slack's form read into the core's
(`bot.flows.queue`, `bot.flows.shares`), whose refusals go back with the submission's ack
(`response_action: errors`, shown under each field: nothing is created), and whose answer follows by
direct message. Opening Edit & share is here too."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import queue, shares
from bot.flows.caller import Caller
from bot.messages import Inline, Message, plain_text
from bot.services.hotpath import AckDeadline
from bot.services.inputs import parse_id
from bot.services.posts import MAX_CAPTIONS
from handlers.slack.blocks.modals import build_edit_modal, submitted
from handlers.slack.channels import is_channel_id
from handlers.slack.identity import button_id, caller_of, submitter_of
from handlers.slack.outbox import drain_workspace
from handlers.slack.render import render
from handlers.slack.text import COMMAND
from models import Member


def _string(value: object) -> str:
    """A submitted text field: Slack sends a string or null; anything else is no text."""
    return value if isinstance(value, str) else ""


def _strings(values: object, key: str | None = None) -> list[str]:
    """A submitted multi-select: ids, or `{key: id}` options."""
    if not isinstance(values, list):
        return []
    if key is not None:
        values = [value.get(key) for value in values if isinstance(value, dict)]
    return [value if isinstance(value, str) else "" for value in values]


def _metadata_id(view: dict[str, Any], key: str) -> tuple[bool, int | None]:
    """(readable, the id stored under `key` in the modal's private_metadata, or None if there is none).
    What Relais wrote there comes back as written; anything else means a form not to trust."""
    raw = view.get("private_metadata") or "{}"
    try:
        metadata = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return False, None
    if not isinstance(metadata, dict):
        return False, None
    value = metadata.get(key)
    if value is None:
        return True, None
    found = parse_id(str(value)) if isinstance(value, int) and not isinstance(value, bool) else None
    return found is not None, found


def _queue_form(view: dict[str, Any]) -> queue.QueueForm:
    """The queue modal's state as the core reads a queue form (`blocks.modals.build_queue_modal`)."""
    picked = _strings(submitted(view, queue.CHANNELS).get("selected_conversations"))
    trusted, suggestion_id = _metadata_id(view, "suggestion_id")
    return queue.QueueForm(
        url=_string(submitted(view, queue.URL).get("value")),
        captions=tuple(
            _string(submitted(view, queue.caption_field(i)).get("value")) for i in range(1, MAX_CAPTIONS + 1)
        ),
        networks=tuple(_strings(submitted(view, queue.NETWORKS).get("selected_options"), "value")),
        channels=tuple(channel for channel in picked if is_channel_id(channel)),
        unknown_channels=tuple(channel for channel in picked if not is_channel_id(channel)),
        publish_at=submitted(view, queue.PUBLISH_AT).get("selected_date_time"),
        expires_on=submitted(view, queue.EXPIRES_ON).get("selected_date"),
        suggestion_id=suggestion_id,
        trusted=trusted,
    )


async def _refuse(ack: AsyncAck, refusals: Mapping[str, Inline]) -> None:
    """Close nothing: each refusal is shown under its field (Slack shows these as plain text)."""
    await ack(
        response_action="errors",
        errors={field: plain_text(why, command=COMMAND) for field, why in refusals.items()},
    )


async def handle_queue_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """The queue modal submitted: its problems go back under the fields; else the form closes and the
    admin hears by direct message where and when the post goes."""
    deps, caller = await submitter_of(context, client, body, AckDeadline(), field=queue.URL)
    if not isinstance(caller, Caller):
        await _refuse(ack, caller)
        return
    checked = queue.check(deps, caller, _queue_form(view))
    if not isinstance(checked, queue.Checked):
        await _refuse(ack, checked)
        return
    await ack()
    await _dm(client, caller.member, await queue.submit(deps, caller, checked))
    await drain_workspace(deps, client, caller.workspace.id)


async def _dm(client: AsyncWebClient, member: Member, message: Message) -> None:
    """The core's answer to the member, in a direct message (a form has nowhere else to answer)."""
    summary, blocks = render(message)
    await client.chat_postMessage(channel=member.external_id, text=summary, blocks=blocks or None)


async def handle_edit_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Edit & share: open a modal with the member's caption prefilled and the network choice."""
    await ack()
    deps, caller = await caller_of(context, client, body)
    form = await shares.edit_form(deps, caller, button_id(action))
    if isinstance(form, Message):
        await _dm(client, caller.member, form)
        return
    view = build_edit_modal(
        post_id=form.post_id, title=form.title, caption=form.caption, networks=form.networks, lang=caller.lang
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def handle_edit_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Edit & share submitted: its problems go back under the fields; else the share is started before
    the form closes (a submission is never resent) and its outcome follows by direct message."""
    deadline = AckDeadline()
    deps, caller = await submitter_of(context, client, body, deadline, field="caption")
    if not isinstance(caller, Caller):
        await _refuse(ack, caller)
        return
    option = submitted(view, "network").get("selected_option")
    checked = shares.check_edit(
        caller.lang,
        caption=_string(submitted(view, "caption").get("value")),
        network=_string(option.get("value")) if isinstance(option, dict) else "" if option else None,
        post_id=_metadata_id(view, "post_id")[1],
    )
    if not isinstance(checked, shares.EditChoice):
        await _refuse(ack, checked)
        return

    async def early(message: Message) -> None:  # the form closes, and the member hears by DM
        await ack()
        await _dm(client, caller.member, message)

    started = await shares.submit_edit(deps, caller, checked, deadline, early)
    if started is None:
        return
    if not isinstance(started, shares.EditStarted):
        await _refuse(ack, started)
        return
    await ack()
    answer = await shares.edited_share_answer(
        deps, caller, checked.post_id, checked.network, checked.caption, started
    )
    await _dm(client, caller.member, answer)
