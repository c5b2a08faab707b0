"""Connected accounts, whatever the chat platform: a personal connect link, disconnecting, where each
network stands for a member, and running the API share a click claimed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.flows.caller import Caller, Early
from bot.messages import Message, notices, text
from bot.messages.connections import DISCONNECT_ACTIONS, Connection, connect_link
from bot.messages.post import connect_action, network_name
from bot.services import connections, posting
from bot.services.hotpath import AckDeadline, started_within
from bot.services.members import Directory
from bot.services.posting import Claim
from models import Member, Network, SocialAccountStatus

logger = logging.getLogger(__name__)

# The words `/relais connect` and `/relais disconnect` take for each network.
NETWORK_WORDS: Final = {"linkedin": Network.LINKEDIN, "x": Network.X, "twitter": Network.X}


# Which network each Connect / Disconnect button is for (the ids the neutral builders give them).
NETWORK_OF_ACTION: Final = {
    **{connect_action("en", network.value).id: network for network in Network},
    **{DISCONNECT_ACTIONS[network.value]: network for network in Network},
}


def network_named(word: str) -> Network | None:
    return NETWORK_WORDS.get(word.lower())


async def connect(core: Relais, member: Member, network: Network, lang: str) -> Message:
    """A fresh personal connect link, or why there is none. Opens its own session: call it with no write
    transaction of the caller's open. Someone the workspace's directory does not have as an active member
    (a deactivated account, a forged click) connects nothing: an account connected here would let a click
    post in the workspace's name before any look-up (`bot.flows.shares`)."""
    if network not in core.social or core.cipher is None:
        return Message(text(lang, "network_not_available", network=network_name(lang, network.value)))
    if not member.active:
        return Message(text(lang, "connect_not_member"))
    async with core.sessions() as session:
        url = await connections.issue_link(
            session,
            cipher=core.cipher,
            base_url=core.settings.base_url,
            member=member,
            network=network,
            now=core.clock.now(),
        )
        await session.commit()
    return connect_link(network=network.value, url=url, lang=lang)


async def disconnect(core: Relais, member: Member, network: Network, lang: str) -> Message:
    """Forget the member's connection (revoking the token at the network where it can). Opens its own
    sessions."""
    name = network_name(lang, network.value)
    if core.cipher is None:
        return Message(text(lang, "was_not_connected", network=name))
    forgotten = await connections.disconnect(
        core.sessions,
        cipher=core.cipher,
        client=core.social.get(network),
        member_id=member.id,
        network=network,
    )
    return Message(text(lang, "disconnected" if forgotten else "was_not_connected", network=name))


async def member_connections(core: Relais, member_id: int) -> tuple[Connection, ...]:
    """Where each network stands for the member; a connection that cannot be refreshed shows its end."""
    async with core.sessions() as session:
        accounts = await connections.connected_networks(session, member_id=member_id)
    result = []
    for network in Network:
        account = accounts.get(network)
        client = core.social.get(network)
        connected = account is not None and account.status is SocialAccountStatus.CONNECTED
        until = None
        if connected and account is not None and client is not None and not client.can_refresh:
            until = account.expires_at.date().isoformat() if account.expires_at else None
        result.append(Connection(network.value, client is not None, connected, until))
    return tuple(result)


async def share_outcome(core: Relais, claim: Claim, timezone: str | None, lang: str) -> Message:
    """Run the API post a click claimed and describe the outcome; or describe the share the click found
    (already posted, already on its way). A retry is announced in `timezone`, the member's
    (`bot.services.members.timezone_of`; None when the member is gone: UTC)."""
    if claim.job_id is None:
        return notices.share_outcome(claim.share, lang, fresh=False)
    try:
        view = await core.poster.run_now(claim.job_id)
    except Exception:
        # The claim is committed: the clock runs the post (or, if it was under way, asks the member to
        # check) and tells the member by direct message.
        logger.exception("running API share %s failed", claim.share.share_id)
        view = None
    if view is None:  # the clock takes it (or took it first) and tells the member
        view = claim.share
    retry_time = notices.local_time(view.retry_at, timezone, now=core.clock.now()) if view.retry_at else None
    return notices.share_outcome(view, lang, retry_time=retry_time)


async def undo(core: Relais, member: Member, share_id: int | None, lang: str) -> Message:
    """Undo an API share: delete the post on the network; only its author can."""
    view = None
    if share_id is not None:
        view = await core.poster.undo(
            workspace_id=member.workspace_id, member_id=member.id, share_id=share_id
        )
    if view is None:
        return Message(text(lang, "no_longer_available"))
    return notices.share_outcome(view, lang, fresh=False)


@dataclass(frozen=True)
class Reposting:
    """Where "post it" stands at the ack: who asked and what was claimed, or `answered` (told already)."""

    caller: Caller | None = None
    claim: Claim | None = None
    answered: bool = False


async def start_repost(
    core: Relais,
    directory: Directory,
    who: Who,
    share_id: int | None,
    early: Early,
) -> Reposting:
    """Before the ack: the repost is claimed (a click is never resent), within what the platform waits
    for; a slow database gets "still working" through `early` at once and the outcome when it is known
    (`repost_answer`). A failure is told through `early`: nothing was recorded."""

    async def claim() -> Reposting:
        caller = await acting.caller(core, directory, who, refresh=False)
        return Reposting(caller, await claim_repost(core, caller.member, share_id))

    task, finished = await started_within(claim(), AckDeadline().left())
    if not finished:
        await early(Message(text(acting.cached_language(core, who), "still_working")))
    try:
        return await task
    except Exception:
        logger.exception("reposting share %s failed", share_id)
        await early(Message(text(acting.cached_language(core, who), "something_went_wrong")))
        return Reposting(answered=True)


async def repost_answer(core: Relais, started: Reposting) -> Message | None:
    """After the ack: the outcome of the repost (`share_outcome`), or that there is nothing to repost;
    None when the member was told already."""
    if started.answered or started.caller is None:
        return None
    if started.claim is None:
        return Message(text(started.caller.lang, "no_longer_available"))
    return await share_outcome(core, started.claim, started.caller.timezone, started.caller.lang)


async def claim_repost(core: Relais, member: Member, share_id: int | None) -> Claim | None:
    """The member checked: a share whose outcome was unknown is not on their profile. Claim posting it
    again (committed before the platform hears back: a click is never resent); None if there is nothing
    to repost."""
    if share_id is None:
        return None
    async with core.sessions() as session:
        claim = await posting.repost(
            session,
            workspace_id=member.workspace_id,
            member_id=member.id,
            share_id=share_id,
            now=core.clock.now(),
        )
        await session.commit()
    return claim
