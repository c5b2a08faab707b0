"""Sent reminders kept true: once a member shares a post one of their sent nudges shows, that nudge is
edited in place to mark the post shared on that network, whichever way the share came (the personal
link opened, Slack's open button, an API post, Edit & share, a click on the channel's card or another
nudge). Teams' link buttons tell the bot nothing, so without this the nudge would go on offering a share
the member already made. "Not for me" is marked the same way (`mark_dismissed`).

Called in the transaction that records the share, it only reads and enqueues outbox rows (never a
network call): an edit (`NUDGE_UPDATE_KIND`) of each sent nudge showing the post, carrying the nudge's
own payload with every post of it the member has shared (`shared`: post id → networks) or dismissed
(`dismissed`: post ids), the message to edit (`message_id`) and, as its destination, where the nudge
went (`OutboxMessage.result`). Its dedupe key names the marks it shows, so a share counted again (the
link opened twice, an intent later posted through the API) enqueues nothing more, and an older edit
still waiting is cancelled by a newer one (which shows more).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import chunks
from bot.services import outbox
from bot.services.schedules import week_key
from bot.services.scores import share_counts
from models import Dismissal, Network, OutboxMessage, OutboxState, Share

NUDGE_KIND: Final = "nudge"
NUDGE_UPDATE_KIND: Final = "nudge_update"
# A post said not to be for the member, in an edit's dedupe key.
DISMISSED: Final = "not_for_me"
# Nudges of this many past weeks are kept true (their posts were at most `weekly.RECENT_POSTS` old then).
MARKED_WEEKS: Final = 5


class NewShare(NamedTuple):
    """A share just counted for the first time."""

    workspace_id: int
    member_id: int
    post_id: int
    network: Network


def nudge_key(week: str, member_id: int) -> str:
    """The dedupe key of a member's nudge of `week` (one a week): how their sent nudges are found."""
    return f"nudge:{week}:{member_id}"


def _weeks(now: datetime) -> list[str]:
    """The weeks a nudge sent in the last `MARKED_WEEKS` weeks may be of. A nudge's week is its member's
    local one, up to a day off UTC's either way."""
    return sorted({week_key(now + timedelta(days=day)) for day in range(-7 * MARKED_WEEKS - 1, 2)})


async def mark_shared(session: AsyncSession, shares: Iterable[NewShare], *, now: datetime) -> None:
    """Enqueue, in `session` (the caller commits), the edit of every sent nudge of these shares' members
    that shows their post."""
    await _mark(session, [(s.workspace_id, s.member_id, s.post_id) for s in shares], now)


async def mark_dismissed(
    session: AsyncSession, *, workspace_id: int, member_id: int, post_id: int, now: datetime
) -> None:
    """The same for "Not for me", just recorded in `session`: the post is marked so in the member's sent
    nudges, without its buttons."""
    await _mark(session, [(workspace_id, member_id, post_id)], now)


async def _mark(session: AsyncSession, changed: Sequence[tuple[int, int, int]], now: datetime) -> None:
    """Edit each sent nudge showing a (workspace, member, post) of `changed`."""
    by_workspace: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for workspace_id, member_id, post_id in changed:
        by_workspace[workspace_id][member_id].add(post_id)
    for workspace_id, posts_of in by_workspace.items():
        for nudge in await _sent_nudges(session, workspace_id, list(posts_of), now):
            shown = _post_ids(nudge.payload)
            member_id = int(str(nudge.dedupe_key).rsplit(":", 1)[1])  # `nudge_key`
            if shown & posts_of.get(member_id, set()):
                await _edit(session, nudge, member_id, shown, now)


async def _sent_nudges(
    session: AsyncSession, workspace_id: int, member_ids: Sequence[int], now: datetime
) -> list[OutboxMessage]:
    """These members' recent nudges that reached them, found by their dedupe keys (an index)."""
    weeks = _weeks(now)
    keys = [nudge_key(week, member_id) for member_id in member_ids for week in weeks]
    found: list[OutboxMessage] = []
    for chunk in chunks(keys):
        rows = await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.workspace_id == workspace_id,
                OutboxMessage.dedupe_key.in_(chunk),
                OutboxMessage.kind == NUDGE_KIND,
                OutboxMessage.state == OutboxState.SENT,
            )
        )
        found.extend(rows)
    return found


def _post_ids(payload: dict[str, Any]) -> set[int]:
    return {int(card["id"]) for card in payload.get("posts") or []}


async def _edit(
    session: AsyncSession, nudge: OutboxMessage, member_id: int, shown: set[int], now: datetime
) -> None:
    """Enqueue the edit of `nudge` showing every post of it `member_id` has shared, by network, and those
    they said were not for them (nothing when the same marks were enqueued before, or the platform gave
    no id to edit the nudge by)."""
    result = nudge.result or {}
    message_id = result.get("message_id")
    if not message_id:
        return
    posts = sorted(shown)
    rows = await session.execute(
        select(Share.post_id, Share.network).where(
            Share.member_id == member_id, Share.post_id.in_(posts), share_counts()
        )
    )
    shared: dict[str, list[str]] = defaultdict(list)
    for post_id, network in sorted(rows.all(), key=lambda row: (row[0], Network(row[1]).value)):
        shared[str(post_id)].append(Network(network).value)
    dismissed = sorted(
        await session.scalars(
            select(Dismissal.post_id).where(Dismissal.member_id == member_id, Dismissal.post_id.in_(posts))
        )
    )
    marks = [f"{post}:{network}" for post, networks in shared.items() for network in networks]
    marks += [f"{post}:{DISMISSED}" for post in dismissed]
    if not marks:
        return
    prefix = f"{NUDGE_UPDATE_KIND}:{nudge.id}:"
    key = prefix + ",".join(marks)
    await outbox.enqueue(
        session,
        workspace_id=nudge.workspace_id,
        kind=NUDGE_UPDATE_KIND,
        destination=str(result.get("channel") or nudge.destination),
        payload={
            **nudge.payload,
            "shared": dict(shared),
            "dismissed": dismissed,
            "message_id": str(message_id),
        },
        now=now,
        dedupe_key=key,
    )
    # An earlier edit still waiting shows fewer marks: this one replaces it.
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.workspace_id == nudge.workspace_id,
            OutboxMessage.kind == NUDGE_UPDATE_KIND,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.dedupe_key.startswith(prefix, autoescape=True),
            OutboxMessage.dedupe_key != key,
        )
        .values(state=OutboxState.CANCELLED, last_error="replaced by a newer edit", updated_at=now)
    )
