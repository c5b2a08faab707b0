"""Opening a member's Relais share link (`PUBLIC_URL/s/<code>`): the share counted once, then the network's
share page.

On Teams a link button (`Action.OpenUrl`) tells the bot nothing, so the link itself does the counting
that Slack's "open" button click does (`bot.flows.shares.open_share`): the same intent share, recorded
once per member × post × network through the share writer, with the same caption variant. The code is
the member's tracked link's (`/r/<code>`): one per member, post and network.

What may open a link without meaning it must not count: a `HEAD`, and link-preview robots (the
User-Agents `/r/` does not count, `links.is_crawler`) are sent on without a share. Like `/r/`, the link
never answers 5xx: an address looking up too many links, or a database that does not answer within
`links.DB_SECONDS`, gets 429 with Retry-After; a share whose write is slower than that is still written
(the writer is never cancelled) and the member is sent on meanwhile.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from typing import Final

from bot.core import Relais
from bot.messages.post import MAX_BUTTON_URL, share_intent_url
from bot.ratelimit import TokenBuckets
from bot.services import links
from bot.services import posts as post_service
from bot.services.hotpath import started_within
from bot.services.shares import ShareRecord
from models import ShareStatus

logger = logging.getLogger(__name__)

# Database look-ups still running (a slow database) beyond which no other is started.
MAX_PENDING: Final = 100


@dataclass(frozen=True)
class Opened:
    """Where the share link sends its visitor (None: the post can no longer be shared there), whether
    this opening recorded the share (False: a robot, a repeat, or not confirmed in time), and the
    link's workspace (where what the share enqueued is sent from)."""

    location: str | None
    counted: bool
    workspace_id: int


class ShareLinks:
    """Everything `/s/<code>` decides, with a per-address limit on look-ups (as `/r/`'s, per process: its
    buckets are keyed by a hash of the address with a random key of the process, never stored)."""

    def __init__(self, core: Relais) -> None:
        self._core = core
        self._limit_key = secrets.token_bytes(links.SALT_BYTES)
        self._lookups = TokenBuckets(
            capacity=links.LOOKUP_PER_ADDRESS[0], per_second=links.LOOKUP_PER_ADDRESS[1]
        )
        self._pending = 0

    async def open(
        self,
        *,
        code: str,
        address: str | None,
        user_agent: str | None,
        caption: str | None,
        robot: bool,
        channel: str | None = None,
    ) -> Opened | links.Refused | None:
        """Open the link `code` (None: no such link). `caption`: the member's own words carried by the
        link (Edit & share), else their caption variant goes to the share page. `robot`: the request
        cannot be a person opening the link (a HEAD); a crawler's User-Agent counts as one too.
        `channel`: the channel whose post card gave the link, recorded on the share only if the post was
        pushed there (anything else, like no channel, is a link opened from elsewhere: NULL)."""
        core = self._core
        visitor = links.visitor_key(self._limit_key, address=address)
        wait = self._lookups.take(visitor, core.clock.now().timestamp())
        if wait > 0.0:
            return links.Refused(status=429, retry_after=max(1, math.ceil(wait)))
        if self._pending >= MAX_PENDING:
            return links.Refused(status=429, retry_after=links.UNAVAILABLE_RETRY_SECONDS, busy=True)
        self._pending += 1
        task, finished = await started_within(self._target(code), links.DB_SECONDS)
        if not finished or task.exception() is not None:
            # A failure is logged by `started_within`; a slow look-up goes on and is forgotten.
            logger.warning("share link: the database did not answer in time; the visitor is asked to retry")
            return links.Refused(status=429, retry_after=links.UNAVAILABLE_RETRY_SECONDS, busy=True)
        target = task.result()
        if target is None:
            return None
        if not target.shareable:
            return Opened(location=None, counted=False, workspace_id=target.workspace_id)
        member_id = target.member_id
        variant = (
            post_service.rotate_caption(target.captions, post_id=target.post_id, member_id=member_id)
            if member_id is not None
            else None
        )
        location = share_intent_url(
            target.network.value,
            link=links.tracked_url(core.settings.base_url, code),
            caption=caption if caption and len(caption) <= MAX_BUTTON_URL else variant,
        )
        if robot or links.is_crawler(user_agent) or member_id is None:
            # (No member: the link's member erased their data; it stands for nobody, nothing is recorded.)
            return Opened(location, counted=False, workspace_id=target.workspace_id)
        place = channel if channel in target.channels else None
        counted = await self._record(target, variant, place)
        return Opened(location, counted=counted, workspace_id=target.workspace_id)

    async def _target(self, code: str) -> links.ShareTarget | None:
        try:
            async with self._core.sessions() as session:
                return await links.share_target(session, code)
        finally:
            self._pending -= 1

    async def _record(self, target: links.ShareTarget, caption: str | None, channel: str | None) -> bool:
        """The intent share, as Slack's open button records it; whether this opening created it. Not
        confirmed within `DB_SECONDS`: the visitor is sent on, the write goes on."""
        record = ShareRecord(
            workspace_id=target.workspace_id,
            member_id=target.member_id,
            post_id=target.post_id,
            network=target.network,
            status=ShareStatus.INTENT,
            at=self._core.clock.now(),
            caption=caption,
            channel=channel,
        )
        task, finished = await started_within(self._core.shares.record(record), links.DB_SECONDS)
        if not finished:
            logger.warning("share link: share of post %s queued but not confirmed in time", target.post_id)
            return False
        if task.exception() is not None:
            return False  # logged by `started_within`; the member can open the link again
        return task.result()
