"""Points, ranks and stats: how each member's sharing is recognised.

Points: a share posted through the network's API 10, a share through the personal link (intent) 3,
each counted click the member's links brought 1, at most `CLICK_CAP` per link per week (so one viral
link does not make the board meaningless). Aggregates are computed in SQL, per workspace. Clicks are
added up by `Click.clicks` (old ones are folded into weekly rows per link, `bot.services.retention`).

A member's rank among everyone's all-time points (`member_stats`, what `/relais me`, the App Home and
`/me` show) is read from a snapshot of everyone's points (`models.SettledPoints`) corrected by the exact
points of the members whose rows changed since: adding up a year of 50,000 members' rows took seconds
at every look (tests/benchmarks/bench_leaderboard.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    or_,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import chunks, insert_ignoring_conflicts
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
    """The ISO-ish UTC week a timestamp falls in, as text, in each database's own dialect (on PostgreSQL
    in UTC whatever the session's TimeZone: a folded week's row is dated at its Monday 00:00 UTC)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "IYYY-IW")
    return func.strftime("%Y-%W", column)


def _points_rows(
    workspace_id: int, dialect: str, *, since: datetime | None = None, members: Collection[int] | None = None
) -> tuple[Select[int | None, int], Select[int | None, int]]:
    """Two selects of (member_id, points) rows, several per member, to `union_all`: each counted share's
    points, and each link's capped clicks of one week; of the shares and clicks dated from `since`, of
    `members` only if given (at most `IN_LIST_MAX`). A share or link standing for nobody (its member
    erased their data, `bot.services.erasure`) earns nobody points: left out."""
    shares = select(Share.member_id.label("member_id"), share_points().label("points")).where(
        share_counts(), Share.member_id.is_not(None)
    )
    weekly = select(Click.link_id, func.sum(Click.clicks).label("n")).where(Click.counted.is_(True))
    if members is None:
        shares = shares.where(Share.workspace_id == workspace_id)
        weekly = weekly.where(Click.workspace_id == workspace_id)
    else:
        shares = shares.where(_own_shares(members))
        weekly = weekly.where(_own_clicks(members))
    if since is not None:
        shares = shares.where(Share.created_at >= since)
        weekly = weekly.where(Click.at >= since)
    capped = weekly.group_by(Click.link_id, _week(Click.at, dialect)).subquery()
    clicks = (
        select(TrackedLink.member_id.label("member_id"), _capped(capped.c.n).label("points"))
        .join(capped, capped.c.link_id == TrackedLink.id)
        .where(TrackedLink.workspace_id == workspace_id, TrackedLink.member_id.is_not(None))
    )
    return shares, clicks


def _summed(workspace_id: int, dialect: str, **which: Any) -> Select[int, Any]:
    rows = union_all(*_points_rows(workspace_id, dialect, **which)).subquery()
    return select(rows.c.member_id, func.sum(rows.c.points)).group_by(rows.c.member_id)


async def points_by_member(
    session: AsyncSession, *, workspace_id: int, since: datetime | None = None
) -> dict[int, int]:
    """Member id → points (only members with any), from the rows themselves."""
    summed = _summed(workspace_id, session.get_bind().dialect.name, since=since)
    points = {member_id: int(value or 0) for member_id, value in await session.execute(summed)}
    return {member_id: value for member_id, value in points.items() if member_id is not None and value > 0}


async def _points_of(session: AsyncSession, workspace_id: int, members: Collection[int]) -> dict[int, int]:
    """Member id → points now, of these members (every one, 0 for none), through their own indexes."""
    points = dict.fromkeys(members, 0)
    dialect = session.get_bind().dialect.name
    for some in chunks(list(members)):
        for member_id, value in await session.execute(_summed(workspace_id, dialect, members=some)):
            points[member_id] = int(value or 0)
    return points


def _own_shares(members: Collection[int]) -> ColumnElement[bool]:
    """These members' shares, found through the (member, post, network) index. No workspace filter: the
    members pin it, and beside it SQLite (no statistics kept) would scan the workspace's index instead."""
    return Share.member_id.in_(members)


def _own_clicks(members: Collection[int]) -> ColumnElement[bool]:
    """The clicks these members' links brought, through their links and each link's clicks (both
    indexed); no workspace filter, for `_own_shares`'s reason."""
    return Click.link_id.in_(select(TrackedLink.id).where(TrackedLink.member_id.in_(members)))


# A row may be committed up to this long after the time it is stamped with (a group commit, a slow
# transaction): members with rows stamped since `PointsRefresh.as_of` less this are looked at again.
LATE_COMMIT: Final = timedelta(minutes=1)
# A look that finds more members changed since the snapshot than this folds them into it first.
FOLD_AFTER: Final = 200


async def _snapshot(session: AsyncSession, workspace_id: int, now: datetime) -> datetime:
    """When the workspace's `SettledPoints` were exact (built from every row if there are none yet)."""
    as_of = await session.scalar(
        select(PointsRefresh.as_of).where(PointsRefresh.workspace_id == workspace_id)
    )
    if as_of is not None:
        return as_of
    claimed = await session.scalar(
        insert_ignoring_conflicts(
            session, PointsRefresh.__table__, [{"workspace_id": workspace_id, "as_of": now}]
        ).returning(PointsRefresh.workspace_id)
    )
    if claimed is None:  # another look built it meanwhile
        found = await session.scalar(
            select(PointsRefresh.as_of).where(PointsRefresh.workspace_id == workspace_id)
        )
        return found or now
    summed = _summed(workspace_id, session.get_bind().dialect.name).subquery()
    erased = select(Member.id).where(Member.workspace_id == workspace_id, Member.erased_at.is_not(None))
    everyone = select(literal(workspace_id), *summed.c).where(summed.c[1] > 0, summed.c[0].not_in(erased))
    await session.execute(
        insert(SettledPoints).from_select(["workspace_id", "member_id", "points"], everyone)
    )
    return now


async def _changed_since(session: AsyncSession, workspace_id: int, as_of: datetime) -> set[int]:
    """Members whose points may have changed since `as_of` (less `LATE_COMMIT`): a share of theirs made
    or changed (`updated_at`), or a click on one of their links (both indexed by time). An erased member
    is not one (`bot.services.erasure` stamps their shares, and deletes their snapshot row): they rank
    nowhere, as on the board (their clicks are deleted)."""
    since = as_of - LATE_COMMIT
    shares = (
        select(Share.member_id)
        .join(Member, Member.id == Share.member_id)  # by primary key, for the few rows changed
        .where(Share.workspace_id == workspace_id, Share.updated_at >= since, Member.erased_at.is_(None))
    )
    clicks = (
        select(TrackedLink.member_id)
        .join(Click, Click.link_id == TrackedLink.id)
        .where(Click.workspace_id == workspace_id, Click.at >= since, TrackedLink.member_id.is_not(None))
    )
    return {member_id for member_id in await session.scalars(union(shares, clicks)) if member_id is not None}


async def _fold(
    session: AsyncSession, workspace_id: int, as_of: datetime, points: dict[int, int], now: datetime
) -> datetime:
    """Write `points` (exact now) into the snapshot and move it on to `now`; a concurrent look that
    folded first wins (one conditional UPDATE claims the move)."""
    claimed = await session.execute(
        update(PointsRefresh)
        .where(PointsRefresh.workspace_id == workspace_id, PointsRefresh.as_of == as_of)
        .values(as_of=now)
    )
    if not cast(CursorResult[Any], claimed).rowcount:
        return as_of
    for some in chunks(list(points)):
        await session.execute(
            delete(SettledPoints).where(
                SettledPoints.workspace_id == workspace_id, SettledPoints.member_id.in_(some)
            )
        )
    rows = [
        {"workspace_id": workspace_id, "member_id": member_id, "points": value}
        for member_id, value in points.items()
        if value > 0
    ]
    if rows:
        await session.execute(insert(SettledPoints), rows)
    return now


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
        select(func.min(Click.at).label("first"), func.sum(Click.clicks).label("n"))
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
    """One member's figures and rank among everyone's points, exact, without adding up a year of every
    member's rows: everyone's points as of a moment (`SettledPoints`, indexed by points), corrected by
    the points now of the few members whose rows changed since (`_changed_since`). When those are many,
    they are folded into the snapshot first, in the caller's transaction (commit it)."""
    as_of = await _snapshot(session, workspace_id, now)
    changed = await _changed_since(session, workspace_id, as_of)
    if len(changed) > FOLD_AFTER and now > as_of:
        as_of = await _fold(
            session, workspace_id, as_of, await _points_of(session, workspace_id, changed), now
        )
        changed = await _changed_since(session, workspace_id, as_of)
    changed.add(member_id)
    exact = await _points_of(session, workspace_id, changed)
    snapshot: dict[int, int] = {}
    for some in chunks(list(changed)):
        found = await session.execute(
            select(SettledPoints.member_id, SettledPoints.points).where(
                SettledPoints.workspace_id == workspace_id, SettledPoints.member_id.in_(some)
            )
        )
        snapshot.update({other: int(value) for other, value in found})
    points = exact[member_id]
    above, participants = (
        await session.execute(
            select(func.count().filter(SettledPoints.points > points), func.count()).where(
                SettledPoints.workspace_id == workspace_id
            )
        )
    ).one()
    # Members above: those of the snapshot, less the changed ones as they were, plus them as they are.
    above -= sum(1 for value in snapshot.values() if value > points)
    above += sum(1 for other, value in exact.items() if value > points and other != member_id)
    participants += sum(1 for value in exact.values() if value > 0) - len(snapshot)
    total, week = (
        await session.execute(
            select(func.count(), func.count().filter(Share.created_at >= now - timedelta(days=7))).where(
                _own_shares([member_id]), share_counts()
            )
        )
    ).one()
    clicks = await session.scalar(
        select(func.sum(Click.clicks)).where(_own_clicks([member_id]), Click.counted.is_(True))
    )
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
        select(func.sum(Click.clicks))
        .select_from(Click)
        .join(TrackedLink, TrackedLink.id == Click.link_id)
        .where(*click_filter)
    )
    dismissals = await session.scalar(select(func.count()).select_from(Dismissal).where(*dismissal_filter))
    top_rows = await session.execute(
        select(Member.display_name, Member.external_id, func.count().label("n"))
        .join(Share, Share.member_id == Member.id)
        .where(*share_filter, Member.erased_at.is_(None))  # an erased member is named nowhere
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
