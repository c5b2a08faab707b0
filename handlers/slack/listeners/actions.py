"""Button clicks on a post: Share on LinkedIn / X, opening the personal share link, Not for me."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.messages.post import share_link
from bot.services import connections, links, posting
from bot.services import members as member_service
from bot.services import posts as post_service
from bot.services.hotpath import AckDeadline, MemberRef, PostRef, started_within
from bot.services.posting import Claim
from bot.services.shares import ShareRecord
from handlers.slack.deps import relais
from handlers.slack.identity import acting_member, button_id, cached_language, identify, team_and_user
from handlers.slack.render import render
from handlers.slack.social import share_outcome, tell
from handlers.slack.text import t
from models import Member, Network, Platform, Post, PostState, ShareStatus, SocialAccountStatus

logger = logging.getLogger(__name__)

NETWORK_OF_ACTION = {
    "share_linkedin": Network.LINKEDIN,
    "share_x": Network.X,
    "open_share_linkedin": Network.LINKEDIN,
    "open_share_x": Network.X,
}


def _shareable(post: Post | PostRef | None, network: Network) -> bool:
    return post is not None and post.state is PostState.PUBLISHED and network.value in post.networks


async def handle_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Share click. A member who connected the network gets an API post in one click (claimed before
    the ack, so the click cannot be lost); the others get their personal share link."""
    deps = relais(context)
    network = NETWORK_OF_ACTION[action["action_id"]]
    post_id = button_id(action)
    claim: Claim | None = None
    who: MemberRef | None = None
    if network in deps.social and post_id is not None:
        deadline = AckDeadline()
        found = await _lookup_before_ack(deps, body, post_id, ack, respond, client, deadline)
        if found is None:
            return
        who, ref = found
        if _shareable(ref, network) and ref is not None:
            task, finished = await started_within(_claim_api_share(deps, who, ref, network), deadline.left())
            if not finished:
                # Still being recorded: say so now, and how it ended once it has.
                await ack()
                await tell(body, respond, client, t(who.lang, "still_working"))
            try:
                claim = await task
            except Exception:
                # The claim's transaction did not commit: nothing was recorded.
                logger.exception("claiming an API share of post %s failed", post_id)
                await ack()
                await tell(body, respond, client, t(who.lang, "something_went_wrong"))
                return
    await ack()
    if claim is not None and who is not None:
        async with deps.sessions() as session:
            member = await session.get(Member, who.member_id)
        text, blocks = await share_outcome(deps, claim, member, who.lang)
        await tell(body, respond, client, text, blocks)
        return
    workspace, member, lang, _ = await identify(deps, client, body)
    async with deps.sessions() as session:
        post = None
        if post_id is not None:
            post = await post_service.get_post(session, workspace_id=workspace.id, post_id=post_id)
        if post is None or not _shareable(post, network):
            await session.commit()
            await tell(body, respond, client, t(lang, "no_longer_available"))
            return
        link = await links.link_for(
            session,
            workspace_id=workspace.id,
            post_id=post.id,
            member_id=member.id,
            network=network,
            now=deps.clock.now(),
        )
        caption = post_service.caption_for(post, member_id=member.id)
        await session.commit()
    text, blocks = render(
        share_link(
            network=network.value,
            post_id=post.id,
            link=links.tracked_url(deps.settings.base_url, link.code),
            caption=caption,
            lang=lang,
            connectable=network in deps.social,
        )
    )
    await tell(body, respond, client, text, blocks)


async def _claim_api_share(deps: Relais, who: MemberRef, post: PostRef, network: Network) -> Claim | None:
    """Claim the share for an API post if the member connected `network`; None if they did not."""
    async with deps.sessions() as session:
        account = await connections.account_of(session, member_id=who.member_id, network=network)
        if account is None or account.status is not SocialAccountStatus.CONNECTED:
            return None
        claim = await posting.claim(
            session,
            workspace_id=who.workspace_id,
            member_id=who.member_id,
            post_id=post.id,
            network=network,
            caption=post_service.rotate_caption(post.captions, post_id=post.id, member_id=who.member_id),
            now=deps.clock.now(),
        )
        await session.commit()
    return claim


async def handle_open_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """The member opened their personal share link: record the share (`intent`) before acking, once.
    This is the hot path: what it needs is usually in memory (`HotCache`), so only the share's group
    commit touches the database before the ack."""
    deps = relais(context)
    network = NETWORK_OF_ACTION[action["action_id"]]
    post_id = button_id(action)
    if post_id is None:
        await ack()
        return
    deadline = AckDeadline()
    found = await _lookup_before_ack(deps, body, post_id, ack, respond, client, deadline)
    if found is None:
        return
    who, post = found
    team_id, user_id = team_and_user(body)
    shareable = _shareable(post, network)
    created = False
    if shareable and post is not None:
        record = ShareRecord(
            workspace_id=who.workspace_id,
            member_id=who.member_id,
            post_id=post_id,
            network=network,
            status=ShareStatus.INTENT,
            at=deps.clock.now(),
            caption=post_service.rotate_caption(post.captions, post_id=post_id, member_id=who.member_id),
        )
        task, finished = await started_within(deps.shares.record(record), deadline.left())
        if not finished:
            # The database is slow (another process holds SQLite's write lock): the share is queued
            # and will be written; the member hears so now, and hears the result once it is.
            logger.warning("share of post %s queued but not confirmed before the ack", post_id)
            await ack()
            name = t(who.lang, f"network_{network.value}")
            await tell(body, respond, client, t(who.lang, "share_still_recording", network=name))
        try:
            created = await task or not finished
        except Exception:
            logger.exception("recording a share of post %s failed", post_id)
            await ack()
            await tell(body, respond, client, t(who.lang, "something_went_wrong"))
            return
    await ack()
    if not shareable or created:
        lang = await _fresh_language(deps, client, team_id, user_id, who)
        name = t(lang, f"network_{network.value}")
        text = t(lang, "share_recorded", network=name) if shareable else t(lang, "no_longer_available")
        await tell(body, respond, client, text)


# At most this much of the ack's budget goes to finding who clicks and the post; the rest is for
# recording the share.
LOOKUP_BEFORE_ACK_SECONDS = 1.5


async def _lookup_before_ack(
    deps: Relais,
    body: dict[str, Any],
    post_id: int,
    ack: AsyncAck,
    respond: AsyncRespond,
    client: AsyncWebClient,
    deadline: AckDeadline,
) -> tuple[MemberRef, PostRef | None] | None:
    """Who clicks and the post, within what Slack waits for the ack. On failure nothing was recorded:
    the click is acked, the member told so, and None returned."""
    team_id, user_id = team_and_user(body)
    task, finished = await started_within(
        _lookup(deps, team_id, user_id, post_id), deadline.left(LOOKUP_BEFORE_ACK_SECONDS)
    )
    if finished and task.exception() is None:
        return task.result()
    if finished:
        logger.error("looking up a share of post %s failed", post_id, exc_info=task.exception())
    else:
        logger.warning("looking up a share of post %s took too long; the member is asked to retry", post_id)
    await ack()
    known = deps.cache.member(team_id, user_id)
    await tell(body, respond, client, t(known.lang if known else "en", "something_went_wrong"))
    return None


async def _lookup(deps: Relais, team_id: str, user_id: str, post_id: int) -> tuple[MemberRef, PostRef | None]:
    """Who is clicking and what the post is, from memory when possible, else in one session."""
    who = deps.cache.member(team_id, user_id)
    post = deps.cache.post(who.workspace_id, post_id) if who is not None else None
    if who is not None and post is not None:
        return who, post
    async with deps.sessions() as session:
        if who is None:
            workspace = await member_service.ensure_workspace(
                session, platform=Platform.SLACK, external_id=team_id, now=deps.clock.now()
            )
            member = await member_service.ensure_member(
                session, workspace=workspace, external_id=user_id, now=deps.clock.now()
            )
            who = MemberRef(
                workspace.id, member.id, member_service.language_of(member), member.admin_checked_at
            )
            deps.cache.remember_member(team_id, user_id, who)
        row = await post_service.get_post(session, workspace_id=who.workspace_id, post_id=post_id)
        await session.commit()
    if row is not None:
        post = PostRef.of(row)
        deps.cache.remember_post(post)
    return who, post


async def _fresh_language(
    deps: Relais, client: AsyncWebClient, team_id: str, user_id: str, who: MemberRef
) -> str:
    """The member's language, refreshing their profile from Slack only when the cached one is stale."""
    now = deps.clock.now()
    if who.checked_at is not None and now - who.checked_at < member_service.PROFILE_TTL:
        return who.lang
    _, member = await acting_member(deps, client, team_id, user_id)
    return member_service.language_of(member)


async def handle_not_for_me(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Record "Not for me" once. Acked at once; the answer follows within the ack's budget, or "still
    working" then, and the answer when the database has recorded it."""
    await ack()
    deps = relais(context)
    post_id = button_id(action)

    async def dismiss() -> tuple[str, bool]:
        workspace, member, lang, _ = await identify(deps, client, body)
        async with deps.sessions() as session:
            post = None
            if post_id is not None:
                post = await post_service.get_post(session, workspace_id=workspace.id, post_id=post_id)
            if post is not None and post.state is not PostState.PUBLISHED:
                post = None  # withdrawn or expired: nothing to give feedback on
            if post is not None:
                await post_service.dismiss(
                    session,
                    workspace_id=workspace.id,
                    member_id=member.id,
                    post_id=post.id,
                    now=deps.clock.now(),
                )
            await session.commit()
        return lang, post is not None

    task, finished = await started_within(dismiss(), AckDeadline().left())
    if not finished:
        await tell(body, respond, client, t(cached_language(deps, body), "still_working"))
    lang, noted = await task  # a failure is answered by the listener's wrapper
    await tell(body, respond, client, t(lang, "not_for_me_noted" if noted else "no_longer_available"))
