"""Points, ranks and stats: how each member's sharing is recognised.

Points: a share posted through the network's API 10, a share through the personal link (intent) 3,
each counted click the member's links brought 1, at most `CLICK_CAP` per link per week (so one viral
link does not make the board meaningless). Aggregates are computed in SQL, per workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    case,
    delete,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignoring_conflicts
from models import (
    Click,
    Dismissal,
    Member,
    Network,
    PointsRefresh,
    SettledPoints,
    Share,
    ShareStatus,
    TrackedLink,
)

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


def _points_rows(
    workspace_id: int,
    dialect: str,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    member_id: int | None = None,
) -> tuple[Select[int, int], Select[int, int]]:
    """Two selects of (member_id, points) rows, several per member, to `union_all`: each counted share's
    points, and each link's capped clicks of one week; of the shares and clicks dated in [since, before),
    of one member if given."""
    shares = select(Share.member_id.label("member_id"), share_points().label("points")).where(share_counts())
    weekly = select(Click.link_id, func.count().label("n")).where(Click.counted.is_(True))
    if member_id is None:
        shares = shares.where(Share.workspace_id == workspace_id)
        weekly = weekly.where(Click.workspace_id == workspace_id)
    else:
        shares = shares.where(*_own_shares(member_id))
        weekly = weekly.where(_own_clicks(member_id))
    if since is not None:
        shares = shares.where(Share.created_at >= since)
        weekly = weekly.where(Click.at >= since)
    if before is not None:
        shares = shares.where(Share.created_at < before)
        weekly = weekly.where(Click.at < before)
    capped = weekly.group_by(Click.link_id, _week(Click.at, dialect)).subquery()
    clicks = (
        select(TrackedLink.member_id.label("member_id"), _capped(capped.c.n).label("points"))
        .join(capped, capped.c.link_id == TrackedLink.id)
        .where(TrackedLink.workspace_id == workspace_id)
    )
    return shares, clicks


async def points_by_member(
    session: AsyncSession, *, workspace_id: int, since: datetime | None = None
) -> dict[int, int]:
    """Member id → points (only members with any)."""
    rows = union_all(*_points_rows(workspace_id, session.get_bind().dialect.name, since=since)).subquery()
    summed = select(rows.c.member_id, func.sum(rows.c.points)).group_by(rows.c.member_id)
    points = {member_id: int(value or 0) for member_id, value in await session.execute(summed)}
    return {member_id: value for member_id, value in points.items() if value > 0}


def _own_shares(member_id: int) -> tuple[ColumnElement[bool], ...]:
    """One member's shares, found through the (member, post, network) index. No workspace filter: the
    member pins it, and beside it SQLite (no statistics kept) would scan the workspace's index instead."""
    return (Share.member_id == member_id,)


def _own_clicks(member_id: int) -> ColumnElement[bool]:
    """The clicks one member's links brought, through the member's links and each link's clicks (both
    indexed); no workspace filter, for `_own_shares`'s reason."""
    return Click.link_id.in_(select(TrackedLink.id).where(TrackedLink.member_id == member_id))


def settled_until(now: datetime) -> datetime:
    """The Monday, 00:00 UTC, that begins `now`'s week: the points of every week before it are settled.
    Every week bucket of the click cap (`_week`, SQLite's and PostgreSQL's) begins on a Monday, so no
    link's cap straddles it."""
    day = now.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(0), tzinfo=UTC)


async def settle(session: AsyncSession, *, workspace_id: int, now: datetime) -> datetime:
    """Bring the workspace's `SettledPoints` up to `settled_until(now)` and return that moment. They are
    rebuilt from the rows when a new week has begun since they were, or a share dated before it changed
    since (undone, posted later: found by `updated_at`, indexed); otherwise this reads two rows and writes
    nothing. Writes go in the caller's transaction (commit it); a concurrent caller that settled first
    wins (the claim is one conditional UPDATE)."""
    until = settled_until(now)
    if not await _stale(session, workspace_id, until):
        return until
    await session.execute(
        insert_ignoring_conflicts(
            session, PointsRefresh.__table__, [{"workspace_id": workspace_id, "settled_until": None}]
        )
    )
    claimed = await session.execute(
        update(PointsRefresh)
        .where(PointsRefresh.workspace_id == workspace_id, _stale_clause(workspace_id, until))
        .values(settled_until=until, refreshed_at=now)
    )
    if not cast(CursorResult[Any], claimed).rowcount:
        return until  # another reader settled it meanwhile
    await session.execute(delete(SettledPoints).where(SettledPoints.workspace_id == workspace_id))
    rows = union_all(*_points_rows(workspace_id, session.get_bind().dialect.name, before=until)).subquery()
    total = func.sum(rows.c.points)
    await session.execute(
        insert(SettledPoints).from_select(
            ["workspace_id", "member_id", "points"],
            select(literal(workspace_id), rows.c.member_id, total)
            .group_by(rows.c.member_id)
            .having(total > 0),
        )
    )
    return until


def _stale_clause(workspace_id: int, until: datetime) -> ColumnElement[bool]:
    changed = (
        select(Share.id)
        .where(
            Share.workspace_id == workspace_id,
            Share.updated_at >= PointsRefresh.refreshed_at,  # >=: a frozen clock's same instant counts
            Share.created_at < PointsRefresh.settled_until,
        )
        .exists()
    )
    return or_(
        PointsRefresh.settled_until.is_(None),
        PointsRefresh.settled_until != until,
        PointsRefresh.refreshed_at.is_(None),
        changed,
    )


async def _stale(session: AsyncSession, workspace_id: int, until: datetime) -> bool:
    fresh = await session.scalar(
        select(PointsRefresh.workspace_id).where(
            PointsRefresh.workspace_id == workspace_id, not_(_stale_clause(workspace_id, until))
        )
    )
    return fresh is None


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
    """One member's figures and rank among everyone's points: the settled weeks (`settle`) plus the
    current week's rows, so a look reads one week of shares and clicks, not a year of them."""
    until = await settle(session, workspace_id=workspace_id, now=now)
    counted = (*_own_shares(member_id), share_counts())
    total = await session.scalar(select(func.count()).select_from(Share).where(*counted))
    week = await session.scalar(
        select(func.count()).select_from(Share).where(*counted, Share.created_at >= now - timedelta(days=7))
    )
    clicks = await session.scalar(
        select(func.count()).select_from(Click).where(_own_clicks(member_id), Click.counted.is_(True))
    )
    dialect = session.get_bind().dialect.name
    settled = select(SettledPoints.member_id.label("member_id"), SettledPoints.points.label("points")).where(
        SettledPoints.workspace_id == workspace_id
    )
    mine_rows = union_all(
        settled.where(SettledPoints.member_id == member_id),
        *_points_rows(workspace_id, dialect, since=until, member_id=member_id),
    ).subquery()
    points = int(await session.scalar(select(func.coalesce(func.sum(mine_rows.c.points), 0))) or 0)
    everyone = union_all(settled, *_points_rows(workspace_id, dialect, since=until)).subquery()
    totals = select(func.sum(everyone.c.points).label("points")).group_by(everyone.c.member_id).subquery()
    above, participants = (
        await session.execute(
            select(func.count().filter(totals.c.points > points), func.count().filter(totals.c.points > 0))
        )
    ).one()
    return MemberStats(
        shares_week=int(week or 0),
        shares_total=int(total or 0),
        clicks=int(clicks or 0),
        points=points,
        rank=1 + int(above) if points > 0 else None,
        participants=int(participants),
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
