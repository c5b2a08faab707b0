"""The share decisions, whatever the chat platform: a click on a Share button (an API post for a member
who connected the network, else their personal share link), opening the personal link (the share
counted once), Edit & share (the form's content, its checks, the share it starts) and Not for me.

A platform answers a click within its own deadline (Slack waits 3 seconds for the acknowledgement), and
a click is never sent again: what must not be lost is committed before that answer, within the budget
of an `AckDeadline`. When the database is slower than that, the member is told so at once through
`early` (the platform acknowledges the click and shows the message), and the outcome follows. Who clicked
is asked of the platform's directory after that answer, never before it (`clicker`): someone it does not
have as an active member of the workspace (a click signed for it naming a member of another workspace, or
a deactivated account) is told the post is not available, gets no caption nor link, and what the click
recorded before the answer is withdrawn. Undo and "post it" on an API share are
`bot.flows.connections.undo` and `claim_repost`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.flows import acting, connections
from bot.flows.acting import Who
from bot.flows.caller import Caller, Early, FormRefusals
from bot.messages import Message, text
from bot.messages.commands import refusal, say
from bot.messages.post import NETWORK_ORDER, OPEN_SHARE_ACTIONS, SHARE_ACTIONS, network_name, share_link
from bot.services import connections as connection_service
from bot.services import links, posting
from bot.services import posts as post_service
from bot.services.hotpath import AckDeadline, MemberRef, PostRef, started_within
from bot.services.members import (
    PROFILE_TTL,
    Directory,
    LookupFailed,
    ensure_member_in,
    ensure_workspace,
    language_of,
    look_up_id,
    timezone_of_member,
)
from bot.services.posting import Claim
from bot.services.posts import PostError, check_captions
from bot.services.shares import DismissRecord, LinkRequest, ProfileUpdate, Recorded, ShareRecord, withdraw
from models import Network, Post, PostState, ShareStatus, SocialAccountStatus

logger = logging.getLogger(__name__)

# Which network each share button is for (the post card's and the personal link's action ids).
NETWORK_OF_ACTION: Final = {
    **{action: Network(network) for network, action in SHARE_ACTIONS.items()},
    **{action: Network(network) for network, action in OPEN_SHARE_ACTIONS.items()},
}
# At most this much of the ack's budget goes to finding who clicks and the post; the rest is for
# recording the share.
LOOKUP_BEFORE_ACK_SECONDS: Final = 1.5


def shareable(post: Post | PostRef | None, network: Network) -> bool:
    """A post can be shared while it is published, on the networks it was queued for."""
    return post is not None and post.state is PostState.PUBLISHED and network.value in post.networks


def card_channel(post: PostRef, channel: str | None) -> str | None:
    """The channel a share came from: the place of the click when the post was pushed there (its card);
    None for anywhere else (a reminder in a private chat, the App Home, a value no card has)."""
    return channel if channel in post.channels else None


# -- who clicks and the post, before the ack -----------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """Who clicks and the post, as the hot path knows them: the member's workspace row id, the member
    (None: not met by this process yet; the share's batch finds or creates their row), and the post."""

    workspace_id: int
    member: MemberRef | None
    post: PostRef | None


def _in_memory(core: Relais, who: Who, post_id: int) -> Found | None:
    """`_find` when this process knows the workspace and the post (the member may be new to it)."""
    ref = core.cache.member(who.platform, who.workspace, who.member)
    workspace_id = ref.workspace_id if ref is not None else core.cache.workspace(who.platform, who.workspace)
    post = core.cache.post(workspace_id, post_id) if workspace_id is not None else None
    if workspace_id is not None and post is not None:
        return Found(workspace_id, ref, post)
    return None


async def _find(core: Relais, who: Who, post_id: int) -> Found:
    """Who is clicking and what the post is, from memory when possible, else in one session (the
    workspace's row, created on first contact, and the post)."""
    known = _in_memory(core, who, post_id)
    if known is not None:
        return known
    ref = core.cache.member(who.platform, who.workspace, who.member)
    workspace_id = ref.workspace_id if ref is not None else core.cache.workspace(who.platform, who.workspace)
    async with core.sessions() as session:
        if workspace_id is None:
            workspace = await ensure_workspace(
                session, platform=who.platform, external_id=who.workspace, now=core.clock.now()
            )
            workspace_id = workspace.id
        row = await post_service.get_post(session, workspace_id=workspace_id, post_id=post_id)
        await session.commit()
    core.cache.remember_workspace(who.platform, who.workspace, workspace_id)
    post = PostRef.of(row) if row is not None else None
    if post is not None:
        core.cache.remember_post(post)
    return Found(workspace_id, ref, post)


async def _find_before_ack(
    core: Relais, who: Who, post_id: int, deadline: AckDeadline, early: Early
) -> Found | None:
    """Who clicks and the post, within the ack's budget. On failure nothing was recorded: the member is
    told so, and None returned."""
    known = _in_memory(core, who, post_id)
    if known is not None:
        return known  # nothing to wait for: no task, no timer
    task, finished = await started_within(_find(core, who, post_id), deadline.left(LOOKUP_BEFORE_ACK_SECONDS))
    if finished and task.exception() is None:
        return task.result()
    if finished:
        logger.error("looking up a share of post %s failed", post_id, exc_info=task.exception())
    else:
        logger.warning("looking up a share of post %s took too long; the member is asked to retry", post_id)
    await early(say(acting.cached_language(core, who), "something_went_wrong"))
    return None


@dataclass(frozen=True)
class _Settled:
    """A record the share writer's batch has written: the member as it now stands (a first contact's
    row once created), what the batch did, and whether it was `confirmed` within the ack's budget."""

    member: MemberRef | None
    recorded: Recorded
    confirmed: bool


async def _settled_before_ack(
    core: Relais,
    who: Who,
    found: Found,
    post_id: int,
    writing: Coroutine[Any, Any, Recorded],
    deadline: AckDeadline,
    early: Early,
    *,
    still: Callable[[str], Message],
) -> _Settled | None:
    """Wait for the batch `writing` a click's record within the ack's budget; past it, `early` says
    `still` (the record is queued and will be written) and the wait goes on. The member (a first
    contact's new row) is remembered, and a post the batch found withdrawn by another process is
    forgotten. None when the write failed: the member was told, nothing was recorded."""
    task, finished = await started_within(writing, deadline.left())
    ref = found.member
    lang = ref.lang if ref is not None else acting.cached_language(core, who)
    if not finished:
        await early(still(lang))
    try:
        recorded = await task
    except Exception:
        logger.exception("recording a click on post %s failed", post_id)
        await early(say(lang, "something_went_wrong"))
        return None
    if recorded.member is not None:
        ref = recorded.member
        core.cache.remember_member(who.platform, who.workspace, who.member, ref)
    if not recorded.live:  # withdrawn by another process since this one read the post
        core.cache.forget_post(found.workspace_id, post_id)
    return _Settled(ref, recorded, confirmed=finished)


# -- an API share --------------------------------------------------------------------------------------


async def _claim_if_connected(
    core: Relais,
    session: AsyncSession,
    *,
    workspace_id: int,
    member_id: int,
    post_id: int,
    network: Network,
    caption: str | None,
    channel: str | None = None,
) -> Claim | None:
    """The API share of the post by the member, claimed in `session` (the caller commits) if they
    connected `network`; None if they did not (they share through their personal link). `channel`: the
    channel whose card was clicked (None: a reminder or a form)."""
    account = await connection_service.account_of(session, member_id=member_id, network=network)
    if account is None or account.status is not SocialAccountStatus.CONNECTED:
        return None
    return await posting.claim(
        session,
        workspace_id=workspace_id,
        member_id=member_id,
        post_id=post_id,
        network=network,
        caption=caption,
        now=core.clock.now(),
        channel=channel,
    )


async def _claim_click(
    core: Relais, who: Who, found: Found, post: PostRef, network: Network, channel: str | None
) -> tuple[MemberRef, Claim | None]:
    """A click's API share, with the member's caption variant; the member row (created on first
    contact) is found in the same session when this process has not met them."""
    async with core.sessions() as session:
        ref = found.member
        if ref is None:
            row = await ensure_member_in(
                session, workspace_id=found.workspace_id, external_id=who.member, now=core.clock.now()
            )
            ref = MemberRef(row.workspace_id, row.id, language_of(row), row.admin_checked_at, row.active)
        claim = await _claim_if_connected(
            core,
            session,
            workspace_id=ref.workspace_id,
            member_id=ref.member_id,
            post_id=post.id,
            network=network,
            caption=post_service.rotate_caption(post.captions, post_id=post.id, member_id=ref.member_id),
            channel=channel,
        )
        await session.commit()
    if found.member is None:
        core.cache.remember_member(who.platform, who.workspace, who.member, ref)
    return ref, claim


async def _api_share_answer(core: Relais, member_id: int, claim: Claim, lang: str) -> Message:
    """Run the claimed API post and describe its outcome (its retry time in the member's zone)."""
    async with core.sessions() as session:
        timezone = await timezone_of_member(session, member_id)
    return await connections.share_outcome(core, claim, timezone, lang)


# -- a click on Share ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """What a share click did before the platform was answered: `claim`, the API share it claimed for
    `member`; `answered` when the member was already told it failed (nothing more to say)."""

    member: MemberRef | None = None
    claim: Claim | None = None
    answered: bool = False


async def start_share(
    core: Relais, who: Who, post_id: int | None, network: Network, early: Early, *, channel: str | None = None
) -> Started:
    """Before the ack: for a member who connected the network, the API share is claimed (so the click
    cannot be lost). Anyone else gets their personal link after the ack (`share_answer`). `channel`: the
    channel whose post card was clicked (None in a private chat: a reminder), recorded on the share."""
    if network not in core.social or post_id is None:
        return Started()
    deadline = AckDeadline()
    found = await _find_before_ack(core, who, post_id, deadline, early)
    if found is None:
        return Started(answered=True)
    post = found.post
    if post is None or not shareable(post, network):
        return Started(found.member)
    task, finished = await started_within(
        _claim_click(core, who, found, post, network, card_channel(post, channel)), deadline.left()
    )
    lang = found.member.lang if found.member is not None else acting.cached_language(core, who)
    if not finished:
        # Still being recorded: say so now, and how it ended once it has.
        await early(say(lang, "still_working"))
    try:
        ref, claim = await task
    except Exception:
        # The claim's transaction did not commit: nothing was recorded.
        logger.exception("claiming an API share of post %s failed", post_id)
        await early(say(lang, "something_went_wrong"))
        return Started(found.member, answered=True)
    return Started(ref, claim)


async def share_answer(
    core: Relais,
    directory: Directory,
    who: Who,
    post_id: int | None,
    network: Network,
    started: Started,
    *,
    counted_by_link: bool = False,
    channel: str | None = None,
) -> Message | None:
    """After the ack: the outcome of the API share the click claimed, or the member's personal share
    link (with a Connect button where this Relais can post for them), or why the post cannot be shared.
    None when the member was already answered. `counted_by_link`: the platform's link buttons tell it
    nothing (Teams), so the personal link's button opens the member's Relais share link, which counts
    the share (`bot.flows.share_links`), and carries the clicked card's `channel` for it; otherwise the
    click on it does (`open_share`)."""
    if started.answered:
        return None
    if started.claim is not None and started.member is not None:
        return await _api_share_answer(core, started.member.member_id, started.claim, started.member.lang)
    if post_id is None:
        return say((await acting.caller(core, directory, who)).lang, "no_longer_available")
    found = await _find(core, who, post_id)
    post = found.post
    # Who clicked, asked of the directory when not known fresh, before anything of the post is shown or
    # kept: someone it does not know (a click signed for this workspace naming a member of another) or
    # who was deactivated gets no caption and no link.
    person = await clicker(core, directory, who, started.member or found.member)
    if post is None or not shareable(post, network) or not person.present:
        return say(person.lang, "no_longer_available")
    ref = person.member
    # The tracked link comes from the share writer's batch: with the member and the post in memory, no
    # session of its own.
    made = await core.shares.link(
        LinkRequest(
            workspace_id=found.workspace_id,
            member_id=ref.member_id if ref is not None else None,
            post_id=post.id,
            network=network,
            at=core.clock.now(),
            member=who.member,  # also when named by id: the row may have been erased since
        )
    )
    if made.member is not None:
        ref = made.member
        core.cache.remember_member(who.platform, who.workspace, who.member, ref)
    assert ref is not None  # named by id, or found or created by the batch
    lang = person.lang
    base = core.settings.base_url
    return share_link(
        network=network.value,
        post_id=post.id,
        link=links.tracked_url(base, made.code),
        caption=post_service.rotate_caption(post.captions, post_id=post.id, member_id=ref.member_id),
        lang=lang,
        connectable=network in core.social,
        opens=links.share_url(base, made.code, channel=channel) if counted_by_link else None,
    )


# -- opening the personal share link -------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """What opening a personal link recorded before the ack: `member`, whether the post could still be
    shared on `network`, and whether this opening counted the share (False: it was counted before)."""

    member: MemberRef | None  # None: a post that cannot be shared, clicked by someone not met yet
    network: Network
    shareable: bool
    counted: bool
    post_id: int = 0
    created: bool = False  # this opening created the share (withdrawn if the directory says a stranger)


async def open_share(
    core: Relais, who: Who, post_id: int | None, network: Network, early: Early, *, channel: str | None = None
) -> Opened | None:
    """The member opened their personal share link: the share (`intent`) is recorded once, before the
    ack, with `channel`, the channel whose post card it was shown under (None in a private chat). This
    is the hot path: what it needs is usually in memory (`HotCache`), so only the share's group commit
    touches the database. None when there is nothing more to say."""
    if post_id is None:
        return None
    deadline = AckDeadline()
    found = await _find_before_ack(core, who, post_id, deadline, early)
    if found is None:
        return None
    ref, post = found.member, found.post
    if post is None or not shareable(post, network):
        return Opened(ref, network, shareable=False, counted=False)
    record = ShareRecord(
        workspace_id=found.workspace_id,
        member_id=ref.member_id if ref is not None else None,
        post_id=post_id,
        network=network,
        status=ShareStatus.INTENT,
        at=core.clock.now(),
        caption=post_service.rotate_caption(post.captions, post_id=post_id, member_id=ref.member_id)
        if ref is not None
        else None,
        channel=card_channel(post, channel),
        member=who.member,  # also when named by id: the row may have been erased since
        captions=post.captions,
    )

    def still_recording(lang: str) -> Message:
        # The database is slow (another process holds SQLite's write lock): the share is queued and
        # will be written; the member hears so now, and hears the result once it is.
        logger.warning("share of post %s queued but not confirmed before the ack", post_id)
        return say(lang, "share_still_recording", network=network_name(lang, network.value))

    settled = await _settled_before_ack(
        core, who, found, post_id, core.shares.recorded(record), deadline, early, still=still_recording
    )
    if settled is None:
        return None
    recorded = settled.recorded
    if not recorded.live:
        return Opened(settled.member, network, shareable=False, counted=False)
    return Opened(
        settled.member,
        network,
        shareable=True,
        counted=recorded.created or not settled.confirmed,
        post_id=post_id,
        created=recorded.created,
    )


async def opened_answer(
    core: Relais, directory: Directory, who: Who, opened: Opened | None
) -> Message | None:
    """After the ack: thanks for a share this opening counted, or why the post cannot be shared; nothing
    for a share counted before. The profile is refreshed from the directory only when stale (`clicker`):
    someone it does not know or who was deactivated has the share this opening recorded withdrawn, and is
    told the post is not available."""
    if opened is None or (opened.shareable and not opened.counted):
        return None
    person = await clicker(core, directory, who, opened.member)
    if opened.shareable and not person.present:
        if opened.created:
            await _withdraw(core, opened.member, opened.post_id, opened.network)
        return say(person.lang, "no_longer_available")
    if not opened.shareable:
        return say(person.lang, "no_longer_available")
    return say(person.lang, "share_recorded", network=network_name(person.lang, opened.network.value))


@dataclass(frozen=True)
class Clicker:
    """Whoever clicked, as known after the ack: their member row (`member`; None only when the database
    failed), their language, and whether the workspace's directory has them as an active member
    (`present` False: it does not know them, or they were deactivated — a click signed for this workspace
    that names someone of another, or someone who left: nothing of the post is theirs)."""

    member: MemberRef | None
    lang: str
    present: bool


async def clicker(core: Relais, directory: Directory, who: Who, known: MemberRef | None) -> Clicker:
    """After the ack: who clicked, their profile refreshed from the directory when the one this process
    knows is missing or stale (a first contact is looked up before anything of the post is shown or kept).
    The click's work before the ack never asks the directory (it is the hot path); what it recorded for
    someone found absent here is withdrawn by the caller. The directory is asked outside any transaction,
    and its answer is written with the share writer's next batch (one UPDATE for many members) rather than
    in a session of its own. A failed look-up (network, 5xx, timeout) keeps what was known: nobody is locked
    out by a hiccup of the directory."""
    if known is None:  # not met by this process: their row, created on first contact, refreshed if stale
        try:
            found = await acting.caller(core, directory, who)
        except (SQLAlchemyError, OSError):
            logger.warning("finding who clicked failed in the database; answering in English", exc_info=True)
            return Clicker(None, acting.cached_language(core, who), present=True)
        row = found.member
        ref = MemberRef(row.workspace_id, row.id, found.lang, row.admin_checked_at, row.active)
        return Clicker(ref, found.lang, row.active)
    now = core.clock.now()
    if known.checked_at is not None and now - known.checked_at < PROFILE_TTL:
        return Clicker(known, known.lang, known.active)
    profile = await look_up_id(directory, member_id=known.member_id, external_id=who.member)
    if isinstance(profile, LookupFailed):
        # Only an answer the directory gave refuses someone: an inactive mark set otherwise (a message
        # to them that failed) comes without a look-up time.
        return Clicker(known, known.lang, known.active or known.checked_at is None)
    present = profile is not None and profile.active
    try:
        written = await core.shares.update_profile(
            ProfileUpdate(known.workspace_id, known.member_id, profile, now)
        )
    except Exception:
        logger.exception("writing the profile of member %s failed", known.member_id)
        return Clicker(known, known.lang, present)
    if written is None:  # erased meanwhile
        return Clicker(known, known.lang, present)
    core.cache.remember_member(who.platform, who.workspace, who.member, written)
    return Clicker(written, written.lang, present)


async def _withdraw(core: Relais, member: MemberRef | None, post_id: int, network: Network | None) -> None:
    """Withdraw what a click recorded before the ack (the share opened on `network`, None: the "Not for
    me") for someone the directory then said is no member of the workspace (`clicker`). A failure is
    logged: the record then stays, as it does when the look-up fails."""
    if member is None:
        return
    try:
        async with core.sessions() as session:
            await withdraw(
                session,
                workspace_id=member.workspace_id,
                member_id=member.member_id,
                post_id=post_id,
                network=network,
            )
            await session.commit()
    except Exception:
        logger.exception("withdrawing the click of member %s on post %s failed", member.member_id, post_id)


# -- Not for me ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dismissed:
    """What a "Not for me" click recorded before the ack: `member` (None: someone not met yet, on a
    post that is not live), and whether it was `noted` (False: the post was withdrawn or expired)."""

    member: MemberRef | None
    noted: bool
    post_id: int = 0
    created: bool = False  # this click created the "Not for me" (withdrawn if the directory says a stranger)


async def start_not_for_me(core: Relais, who: Who, post_id: int | None, early: Early) -> Dismissed | None:
    """Before the ack: "Not for me" recorded once (the post leaves the member's reminders, and their sent
    ones say so), through the share writer's batch like a share (the member row of a first contact
    created there); a withdrawn or expired post has nothing to give feedback on. When the database is
    slower than the ack's budget, `early` says "still working" and the answer follows once it is
    recorded. None when the member was already told it failed (nothing was recorded)."""
    if post_id is None:
        return Dismissed(None, noted=False)
    deadline = AckDeadline()
    found = await _find_before_ack(core, who, post_id, deadline, early)
    if found is None:
        return None
    ref, post = found.member, found.post
    if post is None or post.state is not PostState.PUBLISHED:
        return Dismissed(ref, noted=False)
    record = DismissRecord(
        workspace_id=found.workspace_id,
        member_id=ref.member_id if ref is not None else None,
        post_id=post.id,
        at=core.clock.now(),
        member=who.member,  # also when named by id: the row may have been erased since
    )
    settled = await _settled_before_ack(
        core,
        who,
        found,
        post_id,
        core.shares.dismissed(record),
        deadline,
        early,
        still=lambda lang: say(lang, "still_working"),
    )
    if settled is None:
        return None
    return Dismissed(
        settled.member, noted=settled.recorded.live, post_id=post.id, created=settled.recorded.created
    )


async def not_for_me_answer(
    core: Relais, directory: Directory, who: Who, dismissed: Dismissed | None
) -> Message | None:
    """After the ack: "noted", or why there is nothing to give feedback on, in the member's language
    (their profile refreshed only when stale: `clicker`); None when they were already told it failed.
    Someone the directory does not know or who was deactivated has the "Not for me" this click recorded
    withdrawn, and is told the post is not available."""
    if dismissed is None:
        return None
    person = await clicker(core, directory, who, dismissed.member)
    if not person.present:
        if dismissed.created:
            await _withdraw(core, dismissed.member, dismissed.post_id, None)
        return say(person.lang, "no_longer_available")
    return say(person.lang, "not_for_me_noted" if dismissed.noted else "no_longer_available")


async def not_for_me(
    core: Relais, directory: Directory, who: Who, post_id: int | None, early: Early
) -> Message | None:
    """`start_not_for_me` then `not_for_me_answer`, for a platform that answers once both are done."""
    return await not_for_me_answer(core, directory, who, await start_not_for_me(core, who, post_id, early))


# -- Edit & share --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditForm:
    """What the Edit & share form shows: the post, the member's caption variant to start from, and the
    networks it can go to."""

    post_id: int
    title: str
    caption: str | None
    networks: tuple[str, ...]


async def edit_form(core: Relais, caller: Caller, post_id: int | None) -> EditForm | Message:
    """The form's content, or why the post can no longer be shared (also to someone the directory does not
    have as an active member of the workspace: see `clicker`)."""
    post = None
    if post_id is not None and caller.member.active:
        async with core.sessions() as session:
            post = await post_service.get_post(session, workspace_id=caller.workspace.id, post_id=post_id)
    if post is None or post.state is not PostState.PUBLISHED:
        return say(caller.lang, "no_longer_available")
    return EditForm(
        post_id=post.id,
        title=post.title or post.url,
        caption=post_service.caption_for(post, member_id=caller.member.id),
        networks=tuple(post.networks),
    )


@dataclass(frozen=True)
class EditChoice:
    """A submitted Edit & share form that passed its checks: the post, the network and the member's words."""

    post_id: int
    network: Network
    caption: str


def check_edit(
    lang: str, *, caption: str, network: str | None, post_id: int | None
) -> EditChoice | FormRefusals:
    """A submitted Edit & share form as the platform read it (`network`: the one chosen, None when none
    came back: the first network Relais offers; `post_id`: the post it carried back, None when that is
    not what Relais put there), checked; else why its field is refused."""
    caption = caption.strip()
    if network is None:
        network = NETWORK_ORDER[0]
    if network not in NETWORK_ORDER:
        return {"network": text(lang, "no_network")}
    try:
        check_captions([caption] if caption else [], [network])
    except PostError as error:
        return {"caption": refusal(lang, error.code, error.params)}
    if post_id is None:
        return {"caption": text(lang, "form_outdated")}
    return EditChoice(post_id, Network(network), caption)


@dataclass(frozen=True)
class EditStarted:
    """Whether the post can still be shared on the chosen network, and for a connected member the API
    share claimed with their words."""

    available: bool
    claim: Claim | None


async def start_edited_share(
    core: Relais, caller: Caller, post_id: int, network: Network, caption: str
) -> EditStarted:
    """Before the form is closed (a submission is never resent): the API share, claimed with the
    member's words if they connected the network. Nothing is available to someone the directory does not
    have as an active member of the workspace (`clicker`)."""
    async with core.sessions() as session:
        post = await post_service.get_post(session, workspace_id=caller.workspace.id, post_id=post_id)
        available = shareable(post, network) and caller.member.active
        claim = None
        if available:
            claim = await _claim_if_connected(
                core,
                session,
                workspace_id=caller.workspace.id,
                member_id=caller.member.id,
                post_id=post_id,
                network=network,
                caption=caption or None,
            )
        await session.commit()
    return EditStarted(available, claim)


async def submit_edit(
    core: Relais, caller: Caller, choice: EditChoice, deadline: AckDeadline, early: Early
) -> EditStarted | FormRefusals | None:
    """The checked Edit & share form's share started (`start_edited_share`) within what is left before
    the platform must answer the submission. A slow database: `early` says "still working" (the platform
    closes the form and tells the member), and the outcome follows. On a failure nothing was recorded:
    the refusal to show under the form's field when the form is still open, else the member is told
    through `early` and None returned."""
    task, finished = await started_within(
        start_edited_share(core, caller, choice.post_id, choice.network, choice.caption), deadline.left()
    )
    if not finished:
        await early(say(caller.lang, "still_working"))
    try:
        return await task
    except Exception:
        # The claim's transaction did not commit: nothing was recorded.
        logger.exception("starting the edited share of post %s failed", choice.post_id)
        if finished:
            return {"caption": text(caller.lang, "something_went_wrong")}
        await early(say(caller.lang, "something_went_wrong"))
        return None


async def edited_share_answer(
    core: Relais,
    caller: Caller,
    post_id: int,
    network: Network,
    caption: str,
    started: EditStarted,
    *,
    counted_by_link: bool = False,
) -> Message:
    """After the form closed: the API share's outcome, or the personal link with the member's words, or
    why the post can no longer be shared. `counted_by_link`: as for `share_answer` (the Relais share
    link carries the member's words to the share page)."""
    if not started.available:
        return say(caller.lang, "no_longer_available")
    if started.claim is not None:
        return await connections.share_outcome(core, started.claim, caller.timezone, caller.lang)
    async with core.sessions() as session:
        link = await links.link_for(
            session,
            workspace_id=caller.workspace.id,
            post_id=post_id,
            member_id=caller.member.id,
            network=network,
            now=core.clock.now(),
        )
        await session.commit()
    if link is None:  # they erased their data meanwhile: no link is made for nobody
        return say(caller.lang, "something_went_wrong")
    return share_link(
        network=network.value,
        post_id=post_id,
        link=links.tracked_url(core.settings.base_url, link.code),
        caption=caption or None,
        lang=caller.lang,
        connectable=network in core.social,
        opens=links.share_url(core.settings.base_url, link.code, caption=caption or None)
        if counted_by_link
        else None,
    )
