"""The queue modal (admins) and the Edit & share modal: opening, validating, submitting.

Validation errors are returned with the submission's ack (`response_action: errors`), so Slack shows
them under the field and nothing is created; slow work (fetching the page, publishing) comes after.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import acting, shares
from bot.flows import suggestions as suggestion_flow
from bot.i18n import url_reason
from bot.messages import Message
from bot.services import posts as post_service
from bot.services.hotpath import AckDeadline, started_within
from bot.services.inputs import parse_date, parse_id, parse_stamp
from bot.services.posts import MAX_CAPTIONS, PostError, check_captions
from bot.services.preview import UnsafeURL, validate_url
from bot.services.when import WhenError, end_of_day, within_horizon
from handlers.slack.blocks.modals import build_edit_modal, submitted
from handlers.slack.channels import is_channel_id
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import button_id, cached_language, identify_before_ack, who_sent
from handlers.slack.outbox import drain_outbox
from handlers.slack.render import mrkdwn, render
from handlers.slack.text import t
from models import Member, Network, PostState, Workspace

logger = logging.getLogger(__name__)


def _zone(member: Member, workspace: Workspace) -> ZoneInfo:
    try:
        return ZoneInfo(member.timezone or workspace.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _error_text(lang: str, error: PostError) -> str:
    return t(lang, error.code, **error.params)


NETWORKS = frozenset(network.value for network in Network)


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


def _publish_at(view: dict[str, Any], lang: str, now: datetime, errors: dict[str, str]) -> datetime | None:
    stamp = submitted(view, "publish_at").get("selected_date_time")
    if stamp is None or stamp == "":
        return None
    picked = parse_stamp(stamp)
    try:
        if picked is None:
            raise WhenError("bad_date", str(stamp))
        return within_horizon(picked, now=now, text=str(stamp))
    except WhenError as error:
        key = {"past": "publish_at_past", "too_far": "publish_at_too_far"}.get(error.code, "bad_date")
        errors["publish_at"] = t(lang, key)
        return None


def _expires_at(
    view: dict[str, Any], lang: str, zone: ZoneInfo, after: datetime, errors: dict[str, str]
) -> datetime | None:
    """The end of the picked expiry day in the admin's zone (a post expires after its last day)."""
    picked = submitted(view, "expires_on").get("selected_date")
    if picked is None or picked == "":
        return None
    day = parse_date(picked)
    try:
        if day is None:
            raise WhenError("bad_date", str(picked))
        return end_of_day(day, zone=zone, after=after)
    except WhenError as error:
        key = {"past": "expiry_before_publish", "too_far": "expiry_too_far"}.get(error.code, "bad_date")
        errors["expires_on"] = t(lang, key)
        return None


async def handle_queue_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    deps = relais(context)
    found = await identify_before_ack(deps, client, body, AckDeadline())
    if found is None:
        sorry = t(cached_language(deps, body), "something_went_wrong")
        await ack(response_action="errors", errors={"url": sorry})
        return
    workspace, member, lang, admin = found
    if not admin:
        await ack(response_action="errors", errors={"url": t(lang, "not_admin", command="queue")})
        return
    now = deps.clock.now()
    errors: dict[str, str] = {}
    url = ""
    try:
        url = validate_url(_string(submitted(view, "url").get("value")))
    except UnsafeURL as exc:
        errors["url"] = t(lang, "invalid_url", reason=url_reason(lang, code=exc.code, detail=str(exc)))
    captions = [
        _string(submitted(view, f"caption_{i}").get("value")).strip() for i in range(1, MAX_CAPTIONS + 1)
    ]
    networks = _strings(submitted(view, "networks").get("selected_options"), "value")
    if not networks or not set(networks) <= NETWORKS:
        errors["networks"] = t(lang, "no_network")
    for index, caption in enumerate(captions, start=1):
        try:
            check_captions([caption] if caption else [], networks)
        except PostError as error:
            errors[f"caption_{index}"] = _error_text(lang, error)
    channels = _strings(submitted(view, "channels").get("selected_conversations"))
    if not channels:
        errors["channels"] = t(lang, "no_channel")
    elif unknown := [channel for channel in channels if not is_channel_id(channel)]:
        errors["channels"] = t(lang, "unknown_channel", channel=unknown[0][:80])
    publish_at = _publish_at(view, lang, now, errors)
    expires_at = _expires_at(view, lang, _zone(member, workspace), publish_at or now, errors)
    readable, suggestion_id = _metadata_id(view, "suggestion_id")
    if not readable:
        errors["url"] = t(lang, "form_outdated")
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    preview = await deps.fetcher.fetch(url)
    if preview.error == "private_address":
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "private_url"))
        return
    async with deps.sessions() as session:
        workspace = await session.merge(workspace)
        author = await session.merge(member)
        post = await post_service.queue_post(
            session,
            workspace=workspace,
            author=author,
            preview=preview,
            captions=[c for c in captions if c],
            channels=channels,
            networks=networks,
            publish_at=publish_at,
            expires_at=expires_at,
            now=now,
            lang=lang,
        )
        if suggestion_id is not None:
            await suggestion_flow.approved(
                session,
                workspace_id=workspace.id,
                suggestion_id=suggestion_id,
                post_id=post.id,
                admin=author,
                now=now,
            )
        await session.commit()
    where = ", ".join(f"<#{channel}>" for channel in post.channels)
    if post.state is PostState.SCHEDULED and post.publish_at is not None:
        when = post.publish_at.astimezone(_zone(member, workspace)).strftime("%Y-%m-%d %H:%M")
        text = t(lang, "queued_later", id=post.id, channels=where, when=when)
    else:
        text = t(lang, "queued_now", id=post.id, channels=where)
    await client.chat_postMessage(channel=member.external_id, text=text)
    await drain_outbox(deps, client)


async def _dm(client: AsyncWebClient, member: Member, message: Message) -> None:
    """The core's answer to the member, in a direct message (a form has nowhere else to answer)."""
    text, blocks = render(message)
    await client.chat_postMessage(channel=member.external_id, text=text, blocks=blocks or None)


async def handle_edit_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Edit & share: open a modal with the member's caption prefilled and the network choice."""
    await ack()
    deps = relais(context)
    caller = await acting.caller(deps, SlackDirectory(client), who_sent(body))
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
    deps = relais(context)
    deadline = AckDeadline()
    caller = await acting.caller_before_ack(deps, SlackDirectory(client), who_sent(body), deadline)
    if caller is None:
        sorry = t(cached_language(deps, body), "something_went_wrong")
        await ack(response_action="errors", errors={"caption": sorry})
        return
    lang = caller.lang
    caption = _string(submitted(view, "caption").get("value")).strip()
    option = submitted(view, "network").get("selected_option")
    network = _string(option.get("value")) if isinstance(option, dict) else "" if option else "linkedin"
    problem = shares.edit_problem(lang, caption=caption, network=network)
    if problem is not None:
        field, why = problem
        await ack(response_action="errors", errors={field: mrkdwn(why)})
        return
    _, post_id = _metadata_id(view, "post_id")
    if post_id is None:
        await ack(response_action="errors", errors={"caption": t(lang, "form_outdated")})
        return
    task, finished = await started_within(
        shares.start_edited_share(deps, caller, post_id, Network(network), caption), deadline.left()
    )
    if not finished:
        # The database is slow: the form closes now, and the outcome follows by direct message.
        await ack()
        await client.chat_postMessage(channel=caller.member.external_id, text=t(lang, "still_working"))
    try:
        started = await task
    except Exception:
        # The claim's transaction did not commit: nothing was recorded.
        logger.exception("edit modal: starting the share of post %s failed", post_id)
        sorry = t(lang, "something_went_wrong")
        if finished:
            await ack(response_action="errors", errors={"caption": sorry})
        else:
            await client.chat_postMessage(channel=caller.member.external_id, text=sorry)
        return
    await ack()
    answer = await shares.edited_share_answer(deps, caller, post_id, Network(network), caption, started)
    await _dm(client, caller.member, answer)
