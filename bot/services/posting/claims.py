"""Claiming a share for an API post: once, whatever the concurrency.

A share row (member × post × network) is the idempotency key. `claim` moves it to `pending` with a
conditional write (only from `intent`, `failed` or `undone`), in the same transaction as an outbox row
`social_post` naming it; so concurrent clicks cannot both post, and a crash before the call loses
nothing (the clock runs what is still pending). `Poster` (`poster.py`) runs that row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignoring_conflicts
from bot.services.outbox import SOCIAL_POST_KIND
from models import Network, OutboxMessage, OutboxState, Share, ShareStatus

CLAIMABLE: Final = (ShareStatus.INTENT, ShareStatus.FAILED, ShareStatus.UNDONE)
# Why an API post's outcome is unknown; an `intent` share keeps one of these in `error` after such a post.
UNKNOWN_REASONS: Final = ("unknown", "unclear", "interrupted")
# In a `social_post` job's payload: the counted status the share had before the claim (`intent`).
RESTORE_KEY: Final = "restore"


@dataclass(frozen=True)
class ShareView:
    """What the member is told about one share (platform-neutral; the chat adapters render it)."""

    share_id: int
    post_id: int
    network: Network
    status: ShareStatus
    reason: str | None = None
    external_url: str | None = None
    retry_at: datetime | None = None

    @classmethod
    def of(cls, share: Share, retry_at: datetime | None = None) -> ShareView:
        """An `intent` share with an `error` is a counted intent whose later API post did not go through:
        the member is told about that post (failed, or unknown if it may have gone out)."""
        status = share.status
        if status is ShareStatus.INTENT and share.error is not None:
            status = ShareStatus.UNKNOWN if share.error in UNKNOWN_REASONS else ShareStatus.FAILED
        return cls(share.id, share.post_id, share.network, status, share.error, share.external_url, retry_at)

    def to_payload(self) -> dict[str, Any]:
        return {
            "share_id": self.share_id,
            "post_id": self.post_id,
            "network": self.network.value,
            "status": self.status.value,
            "reason": self.reason,
            "external_url": self.external_url,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> ShareView:
        retry_at = data.get("retry_at")
        return cls(
            share_id=int(data["share_id"]),
            post_id=int(data["post_id"]),
            network=Network(data["network"]),
            status=ShareStatus(data["status"]),
            reason=data.get("reason"),
            external_url=data.get("external_url"),
            retry_at=datetime.fromisoformat(retry_at) if retry_at else None,
        )


@dataclass(frozen=True)
class Claim:
    """`job_id` is the outbox row to run now when this call claimed the share; otherwise `share` says
    where the existing share stands (already posted, on its way, unknown…)."""

    share: ShareView
    job_id: int | None


async def claim(
    session: AsyncSession,
    *,
    workspace_id: int,
    member_id: int,
    post_id: int,
    network: Network,
    caption: str | None,
    now: datetime,
    allowed: tuple[ShareStatus, ...] = CLAIMABLE,
    channel: str | None = None,
) -> Claim:
    """Take the share for an API post, or say why not. The caller commits. `channel`: where the click
    came from, stored only if this creates the share (the first place counts)."""
    key = (Share.member_id == member_id) & (Share.post_id == post_id) & (Share.network == network)
    fields = {"status": ShareStatus.PENDING, "caption": caption, "updated_at": now}
    row = {
        **fields,
        "workspace_id": workspace_id,
        "member_id": member_id,
        "post_id": post_id,
        "network": network,
        "channel": channel,
        "attempts": 0,
        "created_at": now,
    }
    mine = key & (Share.workspace_id == workspace_id)
    share_id = await session.scalar(
        insert_ignoring_conflicts(session, Share.__table__, [row]).returning(Share.id)
    )
    keeps_intent = False
    if share_id is None and ShareStatus.INTENT in allowed:
        # A counted `intent` is taken by its own conditional write, so the job knows atomically what the
        # share was and restores it if the API post does not go through. An intent whose API post had
        # an unknown outcome is taken only by `repost` (the member checked their profile).
        intent = Share.status == ShareStatus.INTENT
        if ShareStatus.UNKNOWN not in allowed:
            intent &= Share.error.is_(None) | Share.error.not_in(UNKNOWN_REASONS)
        share_id = await _take(session, mine & intent, fields)
        keeps_intent = share_id is not None
    if share_id is None:
        others = [status for status in allowed if status is not ShareStatus.INTENT]
        share_id = await _take(session, mine & Share.status.in_(others), fields)
    share = await session.scalar(select(Share).where(mine))
    assert share is not None
    await session.refresh(share)
    if share_id is None:
        return Claim(ShareView.of(share), None)
    payload: dict[str, Any] = {"share_id": share_id}
    if keeps_intent:
        payload[RESTORE_KEY] = ShareStatus.INTENT.value
    job = OutboxMessage(
        workspace_id=workspace_id,
        kind=SOCIAL_POST_KIND,
        destination=str(share_id),
        payload=payload,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return Claim(ShareView.of(share), job.id)


async def _take(session: AsyncSession, condition: Any, fields: Mapping[str, Any]) -> int | None:
    """Move the share matching `condition` to `pending` for a fresh API attempt; its id, or None."""
    return await session.scalar(
        update(Share)
        .where(condition)
        .values(**fields, attempts=0, error=None, external_id=None, external_url=None, posted_at=None)
        .returning(Share.id)
    )


async def repost(
    session: AsyncSession, *, workspace_id: int, member_id: int, share_id: int, now: datetime
) -> Claim | None:
    """The member checked that an `unknown` share is not on their profile and asks to post it again."""
    share = await session.scalar(
        select(Share).where(
            Share.id == share_id, Share.workspace_id == workspace_id, Share.member_id == member_id
        )
    )
    if share is None:
        return None
    return await claim(
        session,
        workspace_id=workspace_id,
        member_id=member_id,
        post_id=share.post_id,
        network=share.network,
        caption=share.caption,
        now=now,
        allowed=(ShareStatus.UNKNOWN, *CLAIMABLE),
    )
