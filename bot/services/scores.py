"""Points, ranks and stats: how each member's sharing is recognised.

Points: a share posted through the network's API 10, a share through the personal link (intent) 3,
each counted click the member's links brought 1, at most `CLICK_CAP` per link per week (so one viral
link does not make the board meaningless). Aggregates are computed in SQL, per workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Click, Dismissal, Member, Network, Share, ShareStatus, TrackedLink

POSTED_POINTS: Final = 10
INTENT_POINTS: Final = 3
CLICK_CAP: Final = 20
COUNTED_STATUSES: Final = (ShareStatus.POSTED, ShareStatus.INTENT)


def share_counts() -> ColumnElement[bool]:
    """A share counts once posted through the API, or once the member's personal link counted it (even
    while a later API attempt is pending, retrying, or after it failed: what a member was told is
    counted stays counted)."""
    return or_(Share.status.in_(COUNTED_STATUSES), Share.intent_at.is_not(None))


def share_points() -> ColumnElement[int]:
    """Points of one share: an API post is worth more than a personal link."""
    return case(
        (Share.status == ShareStatus.POSTED, POSTED_POINTS),
        (share_counts(), INTENT_POINTS),
        else_=0,
    )


def _week(column: Any, dialect: str) -> ColumnElement[str]:
    """The ISO-ish week a timestamp falls in, as text, in each database's own dialect."""
    if dialect == "postgresql":
        return func.to_char(column, "IYYY-IW")
    return func.strftime("%Y-%W", column)


async def points_by_member(
    session: AsyncSession, *, workspace_id: int, since: datetime | None = None
) -> dict[int, int]:
    """Member id → points (only members with any)."""
    dialect = session.get_bind().dialect.name
    share_value = share_points()
    shares = select(Share.member_id, func.sum(share_value)).where(Share.workspace_id == workspace_id)
    if since is not None:
        shares = shares.where(Share.created_at >= since)
    points: dict[int, int] = {}
    for member_id, value in await session.execute(shares.group_by(Share.member_id)):
        points[member_id] = int(value or 0)

    weekly = (
        select(Click.link_id, func.count().label("n"))
        .where(Click.workspace_id == workspace_id, Click.counted.is_(True))
        .group_by(Click.link_id, _week(Click.at, dialect))
    )
    if since is not None:
        weekly = weekly.where(Click.at >= since)
    capped = weekly.subquery()
    clicks = (
        select(TrackedLink.member_id, func.sum(_capped(capped.c.n)))
        .join(capped, capped.c.link_id == TrackedLink.id)
        .where(TrackedLink.workspace_id == workspace_id)
        .group_by(TrackedLink.member_id)
    )
    for member_id, value in await session.execute(clicks):
        points[member_id] = points.get(member_id, 0) + int(value or 0)
    return {member_id: value for member_id, value in points.items() if value > 0}


def _capped(count: Any) -> ColumnElement[int]:
    """The click points of one link's counted clicks in one week: at most `CLICK_CAP`."""
    return case((count > CLICK_CAP, CLICK_CAP), else_=count)


async def member_points(
    session: AsyncSession, *, workspace_id: int, member_id: int, since: datetime
) -> list[tuple[datetime, int]]:
    """One member's points since `since`, each with when it was earned: a share's points at the share's
    time, and a link's capped clicks of one week at the first of those clicks. The rules and the weeks
    of the cap are `points_by_member`'s, so the values add up to what it counts for the member since
    the same moment, and the caller can bucket them by week (`/me`'s points per week)."""
    dialect = session.get_bind().dialect.name
    shares = select(Share.created_at, share_points()).where(
        Share.workspace_id == workspace_id,
        Share.member_id == member_id,
        Share.created_at >= since,
        share_counts(),
    )
    earned = [(at, int(value)) for at, value in await session.execute(shares)]
    week = _week(Click.at, dialect)
    weekly = (
        select(func.min(Click.at).label("first"), func.count().label("n"))
        .join(TrackedLink, TrackedLink.id == Click.link_id)
        .where(
            Click.workspace_id == workspace_id,
            TrackedLink.workspace_id == workspace_id,
            TrackedLink.member_id == member_id,
            Click.counted.is_(True),
            Click.at >= since,
        )
        .group_by(Click.link_id, week)
        .subquery()
    )
    clicks = select(weekly.c.first, _capped(weekly.c.n))
    earned += [(at, int(value)) for at, value in await session.execute(clicks)]
    return earned


def rank_of(points: dict[int, int], member_id: int) -> int | None:
    """1 + the number of members with strictly more points; None for a member with none."""
    mine = points.get(member_id)
    if not mine:
        return None
    return 1 + sum(1 for value in points.values() if value > mine)


@dataclass(frozen=True)
class MemberStats:
    shares_week: int
    shares_total: int
    clicks: int
    points: int
    rank: int | None
    participants: int


async def member_stats(
    session: AsyncSession, *, workspace_id: int, member_id: int, now: datetime
) -> MemberStats:
    counted = (
        Share.workspace_id == workspace_id,
        Share.member_id == member_id,
        share_counts(),
    )
    total = await session.scalar(select(func.count()).select_from(Share).where(*counted))
    week = await session.scalar(
        select(func.count()).select_from(Share).where(*counted, Share.created_at >= now - timedelta(days=7))
    )
    clicks = await session.scalar(
        select(func.count())
        .select_from(Click)
        .join(TrackedLink, TrackedLink.id == Click.link_id)
        .where(
            Click.workspace_id == workspace_id, TrackedLink.member_id == member_id, Click.counted.is_(True)
        )
    )
    points = await points_by_member(session, workspace_id=workspace_id)
    return MemberStats(
        shares_week=int(week or 0),
        shares_total=int(total or 0),
        clicks=int(clicks or 0),
        points=points.get(member_id, 0),
        rank=rank_of(points, member_id),
        participants=len(points),
    )


@dataclass(frozen=True)
class Sharer:
    name: str
    external_id: str
    shares: int


@dataclass(frozen=True)
class PostStats:
    """Stats of one post (post_id set) or of the workspace over a period."""

    post_id: int | None
    by_network: dict[str, int] = field(default_factory=dict)
    clicks: int = 0
    not_for_me: int = 0
    top: list[Sharer] = field(default_factory=list)

    @property
    def shares(self) -> int:
        return sum(self.by_network.values())


async def stats(
    session: AsyncSession, *, workspace_id: int, post_id: int | None = None, since: datetime | None = None
) -> PostStats:
    share_filter: list[Any] = [Share.workspace_id == workspace_id, share_counts()]
    click_filter: list[Any] = [Click.workspace_id == workspace_id, Click.counted.is_(True)]
    dismissal_filter: list[Any] = [Dismissal.workspace_id == workspace_id]
    if post_id is not None:
        share_filter.append(Share.post_id == post_id)
        click_filter.append(TrackedLink.post_id == post_id)
        dismissal_filter.append(Dismissal.post_id == post_id)
    if since is not None:
        share_filter.append(Share.created_at >= since)
        click_filter.append(Click.at >= since)
        dismissal_filter.append(Dismissal.created_at >= since)
    by_network = {
        Network(network).value: int(n)
        for network, n in await session.execute(
            select(Share.network, func.count()).where(*share_filter).group_by(Share.network)
        )
    }
    clicks = await session.scalar(
        select(func.count())
        .select_from(Click)
        .join(TrackedLink, TrackedLink.id == Click.link_id)
        .where(*click_filter)
    )
    dismissals = await session.scalar(select(func.count()).select_from(Dismissal).where(*dismissal_filter))
    top_rows = await session.execute(
        select(Member.display_name, Member.external_id, func.count().label("n"))
        .join(Share, Share.member_id == Member.id)
        .where(*share_filter)
        .group_by(Member.id, Member.display_name, Member.external_id)
        .order_by(func.count().desc(), Member.id)
        .limit(5)
    )
    top = [
        Sharer(name=name or external, external_id=external, shares=int(n)) for name, external, n in top_rows
    ]
    return PostStats(
        post_id=post_id,
        by_network=by_network,
        clicks=int(clicks or 0),
        not_for_me=int(dismissals or 0),
        top=top,
    )
