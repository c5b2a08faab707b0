"""The queue modal (admins) and the Edit & share modal: opening, validating, submitting.

Validation errors are returned with the submission's ack (`response_action: errors`), so Slack shows
them under the field and nothing is created; slow work (fetching the page, publishing) comes after.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import t, url_reason
from bot.services import connections, links, posting, suggestions
from bot.services import members as member_service
from bot.services import posts as post_service
from bot.services.posting import Claim
from bot.services.posts import MAX_CAPTIONS, PostError, check_captions
from bot.services.preview import UnsafeURL, validate_url
from handlers.slack.blocks.modals import build_edit_modal, submitted
from handlers.slack.blocks.share import build_share_link
from handlers.slack.deps import Relais, relais
from handlers.slack.identity import button_id, identify
from handlers.slack.outbox import drain_outbox
from handlers.slack.social import share_outcome
from handlers.slack.suggestions import close_reviews
from models import Member, Network, PostState, SocialAccountStatus, Workspace

logger = logging.getLogger(__name__)


def _zone(member: Member, workspace: Workspace) -> ZoneInfo:
    try:
        return ZoneInfo(member.timezone or workspace.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _error_text(lang: str, error: PostError) -> str:
    return t(lang, error.code, **error.params)


async def handle_queue_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    deps = relais(context)
    try:
        workspace, member, lang, admin = await identify(deps, client, body, refresh=False)
    except Exception:
        logger.exception("queue modal: identifying the submitter failed")
        await ack(response_action="errors", errors={"url": t("en", "something_went_wrong")})
        return
    if not admin:
        await ack(response_action="errors", errors={"url": t(lang, "not_admin", command="queue")})
        return
    now = deps.clock.now()
    errors: dict[str, str] = {}
    url = ""
    try:
        url = validate_url(str(submitted(view, "url").get("value") or ""))
    except UnsafeURL as exc:
        errors["url"] = t(lang, "invalid_url", reason=url_reason(lang, code=exc.code, detail=str(exc)))
    captions = [
        str(submitted(view, f"caption_{i}").get("value") or "").strip() for i in range(1, MAX_CAPTIONS + 1)
    ]
    networks = [str(option["value"]) for option in submitted(view, "networks").get("selected_options") or []]
    if not networks:
        errors["networks"] = t(lang, "no_network")
    for index, caption in enumerate(captions, start=1):
        try:
            check_captions([caption] if caption else [], networks)
        except PostError as error:
            errors[f"caption_{index}"] = _error_text(lang, error)
    channels = [str(c) for c in submitted(view, "channels").get("selected_conversations") or []]
    if not channels:
        errors["channels"] = t(lang, "no_channel")
    stamp = submitted(view, "publish_at").get("selected_date_time")
    publish_at = datetime.fromtimestamp(int(stamp), tz=UTC) if stamp else None
    if publish_at is not None and publish_at < now - timedelta(minutes=1):
        errors["publish_at"] = t(lang, "publish_at_past")
    expires_on = submitted(view, "expires_on").get("selected_date")
    expires_at = None
    if expires_on:
        local_midnight = datetime.combine(date.fromisoformat(str(expires_on)) + timedelta(days=1), time.min)
        expires_at = local_midnight.replace(tzinfo=_zone(member, workspace)).astimezone(UTC)
        if expires_at <= (publish_at or now):
            errors["expires_on"] = t(lang, "expiry_before_publish")
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    preview = await deps.fetcher.fetch(url)
    if preview.error == "private_address":
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "private_url"))
        return
    metadata = json.loads(view.get("private_metadata") or "{}")
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
        suggestion = None
        suggester: Member | None = None
        if metadata.get("suggestion_id"):
            try:
                suggestion = await suggestions.approve(
                    session,
                    workspace_id=workspace.id,
                    suggestion_id=int(metadata["suggestion_id"]),
                    post_id=post.id,
                    admin=author,
                    now=now,
                )
            except PostError:
                suggestion = None  # decided meanwhile by another admin: the post stands on its own
            suggester = await session.get_one(Member, suggestion.member_id) if suggestion else None
        await session.commit()
    if suggestion is not None and suggester is not None:
        await close_reviews(
            client,
            suggestion=suggestion,
            author_id=suggester.external_id,
            decided_key="suggestion_approved_note",
            admin=f"<@{member.external_id}>",
            id=post.id,
        )
        await client.chat_postMessage(
            channel=suggester.external_id,
            text=t(
                member_service.language_of(suggester),
                "suggestion_approved_employee",
                url=suggestion.url,
                id=post.id,
            ),
        )
    where = ", ".join(f"<#{channel}>" for channel in post.channels)
    if post.state is PostState.SCHEDULED and post.publish_at is not None:
        when = post.publish_at.astimezone(_zone(member, workspace)).strftime("%Y-%m-%d %H:%M")
        text = t(lang, "queued_later", id=post.id, channels=where, when=when)
    else:
        text = t(lang, "queued_now", id=post.id, channels=where)
    await client.chat_postMessage(channel=member.external_id, text=text)
    await drain_outbox(deps, client)


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
    workspace, member, lang, _ = await identify(deps, client, body)
    post_id = button_id(action)
    post = None
    if post_id is not None:
        async with deps.sessions() as session:
            post = await post_service.get_post(session, workspace_id=workspace.id, post_id=post_id)
    if post is None or post.state is not PostState.PUBLISHED:
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "no_longer_available"))
        return
    view = build_edit_modal(
        post_id=post.id,
        title=post.title or post.url,
        caption=post_service.caption_for(post, member_id=member.id),
        networks=tuple(post.networks),
        lang=lang,
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


CLAIM_BEFORE_ACK_SECONDS = 1.5


async def _claim_edited(
    deps: Relais, workspace: Workspace, member: Member, post_id: int, network: Network, caption: str
) -> tuple[bool, Claim | None]:
    """Whether the post can still be shared there, and for a connected member the claimed API share
    (claimed before the ack: a submission is never resent)."""
    async with deps.sessions() as session:
        post = await post_service.get_post(session, workspace_id=workspace.id, post_id=post_id)
        available = post is not None and post.state is PostState.PUBLISHED and network.value in post.networks
        account = await connections.account_of(session, member_id=member.id, network=network)
        claim = None
        if available and account is not None and account.status is SocialAccountStatus.CONNECTED:
            claim = await posting.claim(
                session,
                workspace_id=workspace.id,
                member_id=member.id,
                post_id=post_id,
                network=network,
                caption=caption or None,
                now=deps.clock.now(),
            )
        await session.commit()
    return available, claim


async def handle_edit_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    deps = relais(context)
    try:
        workspace, member, lang, _ = await identify(deps, client, body, refresh=False)
    except Exception:
        logger.exception("edit modal: identifying the submitter failed")
        await ack(response_action="errors", errors={"caption": t("en", "something_went_wrong")})
        return
    caption = str(submitted(view, "caption").get("value") or "").strip()
    network = str((submitted(view, "network").get("selected_option") or {}).get("value") or "linkedin")
    try:
        check_captions([caption] if caption else [], [network])
    except PostError as error:
        await ack(response_action="errors", errors={"caption": _error_text(lang, error)})
        return
    post_id = int(json.loads(view.get("private_metadata") or "{}")["post_id"])
    try:
        async with asyncio.timeout(CLAIM_BEFORE_ACK_SECONDS):
            available, claim = await _claim_edited(
                deps, workspace, member, post_id, Network(network), caption
            )
    except Exception:
        logger.exception("edit modal: starting the share of post %s failed", post_id)
        await ack(response_action="errors", errors={"caption": t(lang, "something_went_wrong")})
        return
    await ack()
    if not available:
        await client.chat_postMessage(channel=member.external_id, text=t(lang, "no_longer_available"))
        return
    if claim is not None:
        text, blocks = await share_outcome(deps, claim, member, lang)
        await client.chat_postMessage(channel=member.external_id, text=text, blocks=blocks)
        return
    async with deps.sessions() as session:
        link = await links.link_for(
            session, workspace_id=workspace.id, post_id=post_id, member_id=member.id, network=Network(network)
        )
        await session.commit()
    text, blocks = build_share_link(
        network=network,
        post_id=post_id,
        link=links.tracked_url(deps.settings.base_url, link.code),
        caption=caption or None,
        lang=lang,
        connectable=Network(network) in deps.social,
    )
    await client.chat_postMessage(channel=member.external_id, text=text, blocks=blocks)
