"""The admins' dashboard figures (`GET /admin`): what advocacy brought a workspace over 4, 12 or 52 weeks.

Every figure is counted from the rows `relais export` writes, with the same rules, so that the two agree:

- a **share** is a share row that counts (`scores.share_counts`: posted through the API, or counted by the
  member's personal link; the export's `counted` column), dated by its `created_at`;
- a **click** is a counted click (`Click.counted`, the export's `counted`), dated by its `at`, of the
  network, post and member of its tracked link; a click row stands for `Click.clicks` of them (a link's
  week of clicks once older than RELAIS_RETENTION_DAYS, `bot.services.retention`);
- **share clicks** are share rows of any status: a member pressed a share button or opened their share
  link for one network (counted or not: pending, failed and undone ones too);
- **members reached** by a post are the members a weekly nudge listing it was sent to (sent outbox rows
  of kind `nudge`), each member once a week; a channel message reaches people Relais cannot count. The
  weeks whose outbox rows RELAIS_RETENTION_DAYS deleted (`RetentionHorizon.deleted_before`) keep the
  figures their aggregates hold: a rebuild never recounts them;
- **participation** in a week is the members who shared at least once that week, out of the active
  members Relais knew by the end of that week (`Member.active`, created before the week ended);
- the **"Not for me" rate** of a post is its "Not for me" answers out of those answers plus its share
  clicks.

Weeks are UTC weeks starting on Monday; a period of N weeks ends with the current one (the injected
clock's). A network narrows shares, share clicks and clicks to that network; a channel narrows every figure
to the posts pushed to that channel (`Delivery`); a post (its page) to that post. Every query is scoped to
the workspace.

Speed: with 50,000 members and 2,000,000 shares and clicks, reading the rows themselves took 7 s for 4
weeks and 13 s for 12 on SQLite (`tests/benchmarks/bench_dashboard.py`). So the rows are kept as weekly
aggregates too (`models.dashboard`: per post and network, per member and network over every post and per
channel, members who shared, members reached), holding every row stamped before a watermark, and the
dashboard adds the rows stamped since (minutes of them). `refresh` brings them up to date before every
read, in the reader's own transaction: when the watermark is older than `FRESH`, or a share stamped before
it changed since (its status moved: posted, undone; found by `updated_at`), the weeks from the
watermark's (or the changed share's) are rebuilt from the rows. The clock's hourly `dashboard` job does
the same for every workspace, so a look rarely pays for it. Clicks, nudges and new shares are stamped when
they are written, so they land after the watermark. The export and the dashboard therefore agree at every
moment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    delete,
    distinct,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignoring_conflicts
from bot.services import conversations
from bot.services.scores import share_counts
from bot.services.shared_marks import NUDGE_KIND
from models import (
    Click,
    DashboardMemberWeek,
    DashboardReachWeek,
    DashboardRefresh,
    DashboardSharersWeek,
    DashboardWeek,
    Delivery,
    Dismissal,
    Member,
    Network,
    OutboxState,
    Post,
    RetentionHorizon,
    Share,
    TrackedLink,
    UTCDateTime,
)

PERIODS: Final = (4, 12, 52)
DEFAULT_PERIOD: Final = 4
TOP_ADVOCATES: Final = 10
# The aggregates hold every row stamped before their watermark, set this long before the refresh that
# wrote it: a share or click stamped just before but committed just after is in by the next one.
SETTLE: Final = timedelta(minutes=10)
# A look at the dashboard rebuilds aggregates older than this. The clock's hourly job keeps them younger,
# so a look reads at most an hour or so of rows itself, and never waits for a rebuild (seconds for a week
# of 20,000 shares and 20,000 clicks on SQLite) unless the clock is not running.
FRESH: Final = timedelta(hours=2)
# Week numbers count from this Monday (1970-01-05, UTC), 604,800 seconds each.
_FIRST_MONDAY: Final = date(1970, 1, 5)
_MONDAY_EPOCH: Final = 4 * 86_400
_WEEK: Final = 7 * 86_400
ALL_CHANNELS: Final = ""  # `DashboardMemberWeek.channel` of the rows over every post
ALL_NETWORKS: Final = ""  # `DashboardSharersWeek.network` of the rows over every network


def week_of(at: datetime) -> date:
    """The Monday (UTC) of the week `at` falls in: how the dashboard and a reader of the export bucket."""
    day = at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def week_number(monday: date) -> int:
    return (monday - _FIRST_MONDAY).days // 7


def _monday(number: int) -> date:
    return _FIRST_MONDAY + timedelta(weeks=int(number))


def _start(number: int) -> datetime:
    return datetime.combine(_monday(number), time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Scope:
    """What a dashboard shows: a workspace, the weeks up to the one `now` falls in, a network, a channel
    and a post (None for all)."""

    workspace_id: int
    weeks: int
    now: datetime
    network: Network | None = None
    channel: str | None = None
    post_id: int | None = None

    @property
    def week_starts(self) -> list[date]:
        this_monday = week_of(self.now)
        return [this_monday - timedelta(weeks=back) for back in range(self.weeks - 1, -1, -1)]

    @property
    def first_week(self) -> int:
        return week_number(self.week_starts[0])

    @property
    def end_week(self) -> int:
        """The week after the period."""
        return week_number(week_of(self.now)) + 1

    @property
    def since(self) -> datetime:
        return _start(self.first_week)

    @property
    def until(self) -> datetime:
        return _start(self.end_week)


@dataclass(frozen=True)
class Recent:
    """The rows stamped after the aggregates' watermark (minutes of them), grouped by week, post, member
    and network, read once per page and summed in Python every way the page needs."""

    # (week, post id, member id, network, share clicks, counted shares); member id None: rows that stand
    # for nobody (their members erased their data, `bot.services.erasure`), in every total but no member's
    shares: list[tuple[int, int, int | None, Network, int, int]] = field(default_factory=list, repr=False)
    # (week, post id, member id, network, counted clicks)
    clicks: list[tuple[int, int, int | None, Network, int]] = field(default_factory=list, repr=False)
    # (post id, members reached): the nudges sent since
    reach: list[tuple[int, int]] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Split:
    """A period as read: the aggregates (every row stamped before `watermark`) and the rows since
    (`recent`)."""

    watermark: datetime
    recent: Recent = field(default_factory=Recent)


@dataclass(frozen=True)
class Week:
    start: date
    shares: dict[Network, int]
    clicks: dict[Network, int]
    sharers: int
    members: int

    @property
    def participation(self) -> float | None:
        """Sharers out of active members (None when there were none)."""
        return self.sharers / self.members if self.members else None


@dataclass(frozen=True)
class PostFigures:
    """One post's funnel over the period, and its "Not for me" answers."""

    post_id: int
    title: str
    url: str
    reached: int = 0
    share_clicks: int = 0
    shares: int = 0
    clicks: int = 0
    not_for_me: int = 0

    @property
    def not_for_me_rate(self) -> float | None:
        answered = self.not_for_me + self.share_clicks
        return self.not_for_me / answered if answered else None


@dataclass(frozen=True)
class Advocate:
    member_id: int
    name: str
    external_id: str
    shares: int
    clicks: int


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    weeks: list[Week]
    posts: list[PostFigures]
    advocates: list[Advocate]
    channels: list[str] = field(default_factory=list)


def _week_sql(column: Any, dialect: str) -> ColumnElement[int]:
    """`week_number` of a timestamp, in SQL (exact: integer seconds, no float days)."""
    if dialect == "postgresql":
        return cast(func.floor((func.extract("epoch", column) - _MONDAY_EPOCH) / _WEEK), Integer)
    seconds = cast(func.strftime("%s", column), Integer)
    return (seconds - _MONDAY_EPOCH) // _WEEK


def _channel_posts(workspace_id: int, channel: str) -> Select[Any]:
    return select(Delivery.post_id).where(
        Delivery.workspace_id == workspace_id, Delivery.destination == channel
    )


# --- Reading the rows themselves (the weeks not settled yet, and building the aggregates) ---------------


def _share_filters(scope: Scope, since: datetime, until: datetime, *, counted: bool = True) -> list[Any]:
    filters: list[Any] = [
        Share.workspace_id == scope.workspace_id,
        Share.created_at >= since,
        Share.created_at < until,
    ]
    if counted:
        filters.append(share_counts())
    if scope.network is not None:
        filters.append(Share.network == scope.network)
    if scope.channel is not None:
        filters.append(Share.post_id.in_(_channel_posts(scope.workspace_id, scope.channel)))
    if scope.post_id is not None:
        filters.append(Share.post_id == scope.post_id)
    return filters


def _click_filters(scope: Scope, since: datetime, until: datetime) -> list[Any]:
    filters: list[Any] = [
        Click.workspace_id == scope.workspace_id,
        Click.at >= since,
        Click.at < until,
        Click.counted.is_(True),
        TrackedLink.workspace_id == scope.workspace_id,
    ]
    if scope.network is not None:
        filters.append(TrackedLink.network == scope.network)
    if scope.channel is not None:
        filters.append(TrackedLink.post_id.in_(_channel_posts(scope.workspace_id, scope.channel)))
    if scope.post_id is not None:
        filters.append(TrackedLink.post_id == scope.post_id)
    return filters


def _reach_sql(dialect: str, *, insert_into: bool) -> Any:
    """Members a sent nudge listed each post to, per week: to read, or to insert into the aggregate."""
    if dialect == "postgresql":
        week = "CAST(floor((extract(epoch FROM o.sent_at) - 345600) / 604800) AS INTEGER)"
        post = "CAST(item.value ->> 'id' AS BIGINT)"
        source = "outbox AS o CROSS JOIN LATERAL json_array_elements(o.payload -> 'posts') AS item(value)"
    else:
        week = "(CAST(strftime('%s', o.sent_at) AS INTEGER) - 345600) / 604800"
        post = "CAST(json_extract(item.value, '$.id') AS INTEGER)"
        source = "outbox AS o, json_each(o.payload, '$.posts') AS item"
    assert (_MONDAY_EPOCH, _WEEK) == (345600, 604800)
    head = "INSERT INTO dashboard_reach_week (workspace_id, week, post_id, reached) " if insert_into else ""
    return text(
        # Only our own fixed SQL pieces are formatted in; every value is a bound parameter.
        f"{head}SELECT CAST(:workspace AS BIGINT), {week}, {post}, COUNT(DISTINCT o.destination) "  # noqa: S608
        f"FROM {source} WHERE o.workspace_id = :workspace AND o.kind = :kind AND o.state = :state "
        "AND o.sent_at >= :since AND o.sent_at < :until GROUP BY 2, 3"
    ).bindparams(bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()))


def _reach_params(workspace_id: int, since: datetime, until: datetime) -> dict[str, Any]:
    return {
        "workspace": workspace_id,
        "kind": NUDGE_KIND,
        "state": OutboxState.SENT.value,
        "since": since,
        "until": until,
    }


# --- The aggregates --------------------------------------------------------------------------------------


async def refresh(session: AsyncSession, *, workspace_id: int, now: datetime) -> datetime:
    """Bring the workspace's aggregates up to date (see the module's docstring); returns their watermark.
    The caller commits. Up-to-date aggregates are only read (no write lock, on SQLite either); a rebuild
    first writes, or locks, the workspace's `DashboardRefresh` row, so concurrent ones wait for each other
    and the second finds the work done."""
    target = now - SETTLE
    state = await session.get(DashboardRefresh, workspace_id)
    if state is not None and state.watermark is not None and not (await _stale(session, state, target))[0]:
        return state.watermark
    await session.execute(
        insert_ignoring_conflicts(session, DashboardRefresh.__table__, [{"workspace_id": workspace_id}])
    )
    state = await session.scalar(
        select(DashboardRefresh)
        .where(DashboardRefresh.workspace_id == workspace_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert state is not None
    stale, first = await _stale(session, state, target)
    if not stale and state.watermark is not None:
        return state.watermark
    await _rebuild(session, workspace_id=workspace_id, first=first, until=target)
    state.watermark, state.refreshed_at = target, now
    return target


async def _stale(session: AsyncSession, state: DashboardRefresh, target: datetime) -> tuple[bool, int | None]:
    """Whether the aggregates need a rebuild, and from which week (None: every week)."""
    if state.watermark is None or state.refreshed_at is None:
        return True, None  # never built
    # Shares changed since the last refresh (few: minutes or days of them), by the index on `updated_at`
    # alone: a condition on `created_at` too would lead SQLite through every share.
    changed = await session.scalars(
        select(Share.created_at).where(
            Share.workspace_id == state.workspace_id, Share.updated_at >= state.refreshed_at - SETTLE
        )
    )
    dirty = [week_number(week_of(at)) for at in changed if at < state.watermark]
    # A refresh leaves the watermark `SETTLE` before its own time: one older than that was moved back
    # since (`bot.services.erasure`, having deleted clicks the aggregates hold), and the aggregates still
    # hold the rows after it, which the look would add again from the rows themselves.
    moved_back = state.watermark < state.refreshed_at - SETTLE
    if not dirty and not moved_back and target - FRESH <= state.watermark <= target:
        return False, None
    # From the week of the older of the two watermarks (a clock set back, `relais jobs run --at`, too).
    return True, min([week_number(week_of(min(state.watermark, target))), *dirty])


async def _rebuild(session: AsyncSession, *, workspace_id: int, first: int | None, until: datetime) -> None:
    """Aggregate the rows stamped from week `first` (None: from the first) until `until`, replacing those
    weeks' aggregates, in SQL: each part grouped where it is read, the parts added up by upserts."""
    dialect = session.get_bind().dialect.name
    since = _start(first) if first is not None else datetime(1970, 1, 5, tzinfo=UTC)
    end = week_number(week_of(until)) + 1
    kept = await _reach_kept_before(session, workspace_id)
    for table in (DashboardWeek, DashboardMemberWeek, DashboardSharersWeek, DashboardReachWeek):
        where = [table.workspace_id == workspace_id]
        if first is not None:
            where.append(table.week >= first)
        if table is DashboardReachWeek and kept is not None:
            where.append(table.week >= kept)
        await session.execute(delete(table).where(*where))

    everything = Scope(workspace_id, 1, since)  # no network, channel or post
    # Constants written into the SQL (an int of ours): PostgreSQL cannot type a bound parameter in a
    # SELECT list.
    ws = literal_column(str(int(workspace_id)), Integer)
    zero = literal_column("0", Integer)
    no_channel = literal_column("''", String)
    counted = case((share_counts(), 1), else_=0)
    share_week = _week_sql(Share.created_at, dialect)
    click_week = _week_sql(Click.at, dialect)
    all_shares = _share_filters(everything, since, until, counted=False)
    counted_shares = _share_filters(everything, since, until)
    counted_clicks = _click_filters(everything, since, until)

    def upsert(table: Any, keys: list[str], query: Any, adds: tuple[str, ...] = ()) -> Any:
        insert_into = pg_insert if dialect == "postgresql" else sqlite_insert
        columns = [column.name for column in table.__table__.columns]
        statement = insert_into(table).from_select(columns, query)
        if not adds:
            return statement
        return statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: table.__table__.c[name] + statement.excluded[name] for name in adds},
        )

    def delivered(post_column: Any) -> Any:
        return (Delivery.post_id == post_column) & (Delivery.workspace_id == workspace_id)

    week_keys = ["workspace_id", "week", "post_id", "network"]
    await session.execute(
        upsert(DashboardWeek, week_keys,
               select(ws, share_week, Share.post_id, Share.network, func.count(), func.sum(counted), zero)
               .where(*all_shares).group_by(share_week, Share.post_id, Share.network))
    )  # fmt: skip
    await session.execute(
        upsert(DashboardWeek, week_keys,
               select(ws, click_week, TrackedLink.post_id, TrackedLink.network, zero, zero,
                      func.sum(Click.clicks))
               .select_from(Click).join(TrackedLink, TrackedLink.id == Click.link_id)
               .where(*counted_clicks).group_by(click_week, TrackedLink.post_id, TrackedLink.network),
               ("clicks",))
    )  # fmt: skip

    # Per member: grouped by week, post, member and network first (read through the time indexes), then
    # once over every post and once per channel the post was pushed to.
    member_keys = ["workspace_id", "channel", "week", "member_id", "network"]
    # Rows standing for nobody (their members erased their data) count in the totals above, not here.
    member_shares = (
        select(
            share_week.label("week"), Share.post_id, Share.member_id, Share.network, func.count().label("n")
        )
        .where(*counted_shares, Share.member_id.is_not(None))
        .group_by(share_week, Share.post_id, Share.member_id, Share.network)
        .subquery()
    )
    member_clicks = (
        select(click_week.label("week"), TrackedLink.post_id, TrackedLink.member_id, TrackedLink.network,
               func.sum(Click.clicks).label("n"))
        .select_from(Click)
        .join(TrackedLink, TrackedLink.id == Click.link_id)
        .where(*counted_clicks, TrackedLink.member_id.is_not(None))
        .group_by(click_week, TrackedLink.post_id, TrackedLink.member_id, TrackedLink.network)
        .subquery()
    )  # fmt: skip
    for part, column in ((member_shares, "shares"), (member_clicks, "clicks")):
        for channel in (no_channel, Delivery.destination):
            counts = (func.sum(part.c.n), zero) if column == "shares" else (zero, func.sum(part.c.n))
            query = select(ws, channel, part.c.week, part.c.member_id, part.c.network, *counts)
            keys: list[Any] = [part.c.week, part.c.member_id, part.c.network]
            if channel is not no_channel:  # (PostgreSQL refuses a constant in GROUP BY)
                query = query.join(Delivery, delivered(part.c.post_id))
                keys.append(channel)
            query = query.group_by(*keys)
            await session.execute(upsert(DashboardMemberWeek, member_keys, query, (column,)))

    built = (
        DashboardMemberWeek.workspace_id == workspace_id,
        DashboardMemberWeek.week >= _week_of_start(since),
        DashboardMemberWeek.week < end,
        DashboardMemberWeek.shares > 0,
    )
    member = DashboardMemberWeek
    await session.execute(
        upsert(DashboardSharersWeek, [],
               select(ws, member.channel, member.network, member.week, func.count())
               .where(*built).group_by(member.channel, member.network, member.week))
    )  # fmt: skip
    await session.execute(
        upsert(DashboardSharersWeek, [],
               select(ws, member.channel, no_channel, member.week, func.count(distinct(member.member_id)))
               .where(*built).group_by(member.channel, member.week))
    )  # fmt: skip
    reached_since = max(since, _start(kept)) if kept is not None else since
    await session.execute(
        _reach_sql(dialect, insert_into=True), _reach_params(workspace_id, reached_since, until)
    )


async def _reach_kept_before(session: AsyncSession, workspace_id: int) -> int | None:
    """The first week whose sent nudges are all still there (None: every week's are): the members reached
    of the weeks before it are kept as the aggregates hold them (`RetentionHorizon.deleted_before`, a
    Monday, deleted finished outbox rows stamped before it)."""
    deleted_before = await session.scalar(
        select(RetentionHorizon.deleted_before).where(RetentionHorizon.workspace_id == workspace_id)
    )
    return None if deleted_before is None else week_number(week_of(deleted_before))


def _week_of_start(at: datetime) -> int:
    return week_number(week_of(at))


# --- The figures -----------------------------------------------------------------------------------------


def _aggregate_filters(scope: Scope, split: Split) -> list[Any]:
    filters: list[Any] = [
        DashboardWeek.workspace_id == scope.workspace_id,
        DashboardWeek.week >= scope.first_week,
        DashboardWeek.week < scope.end_week,
    ]
    if scope.network is not None:
        filters.append(DashboardWeek.network == scope.network.value)
    if scope.channel is not None:
        filters.append(DashboardWeek.post_id.in_(_channel_posts(scope.workspace_id, scope.channel)))
    if scope.post_id is not None:
        filters.append(DashboardWeek.post_id == scope.post_id)
    return filters


def _member_filters(scope: Scope) -> list[Any]:
    """The member rows of the scope's channel and network (any week)."""
    filters: list[Any] = [
        DashboardMemberWeek.workspace_id == scope.workspace_id,
        DashboardMemberWeek.channel == (scope.channel or ALL_CHANNELS),
    ]
    if scope.network is not None:
        filters.append(DashboardMemberWeek.network == scope.network.value)
    return filters


async def weekly(session: AsyncSession, scope: Scope, split: Split) -> list[Week]:
    """Shares and clicks per week and network, and participation per week (not for a post's page)."""
    dialect = session.get_bind().dialect.name
    shares: dict[date, dict[Network, int]] = defaultdict(dict)
    clicks: dict[date, dict[Network, int]] = defaultdict(dict)
    for number, network, shared, clicked in await session.execute(
        select(DashboardWeek.week, DashboardWeek.network, func.sum(DashboardWeek.shares),
               func.sum(DashboardWeek.clicks))
        .where(*_aggregate_filters(scope, split))
        .group_by(DashboardWeek.week, DashboardWeek.network)
    ):  # fmt: skip
        if shared:
            shares[_monday(number)][Network(network)] = int(shared)
        if clicked:
            clicks[_monday(number)][Network(network)] = int(clicked)
    for number, _, _, network, _, counted in split.recent.shares:
        if counted:
            week = shares[_monday(number)]
            week[network] = week.get(network, 0) + counted
    for number, _, _, network, count in split.recent.clicks:
        week = clicks[_monday(number)]
        week[network] = week.get(network, 0) + count

    sharers: dict[date, int] = {}
    if scope.post_id is None:
        for number, count in await session.execute(
            select(DashboardSharersWeek.week, DashboardSharersWeek.sharers).where(
                DashboardSharersWeek.workspace_id == scope.workspace_id,
                DashboardSharersWeek.channel == (scope.channel or ALL_CHANNELS),
                DashboardSharersWeek.network == (scope.network.value if scope.network else ALL_NETWORKS),
                DashboardSharersWeek.week >= scope.first_week,
                DashboardSharersWeek.week < scope.end_week,
            )
        ):
            sharers[_monday(number)] = int(count)
        recent_sharers: dict[int, set[int]] = defaultdict(set)
        for number, _, member_id, _, _, counted in split.recent.shares:
            if counted and member_id is not None:  # nobody's shares make nobody a sharer
                recent_sharers[number].add(member_id)
        # A week with shares since the watermark: its members who shared before it, and since (once).
        for number, members_who_shared in recent_sharers.items():
            before = await session.scalars(
                select(DashboardMemberWeek.member_id).where(
                    *_member_filters(scope),
                    DashboardMemberWeek.week == number,
                    DashboardMemberWeek.shares > 0,
                )
            )
            sharers[_monday(number)] = len(members_who_shared | set(before.all()))
    members = await _active_members_by_week(session, scope, dialect)
    return [
        Week(
            start=start,
            shares=shares.get(start, {}),
            clicks=clicks.get(start, {}),
            sharers=sharers.get(start, 0),
            members=members[start],
        )
        for start in scope.week_starts
    ]


async def _active_members_by_week(session: AsyncSession, scope: Scope, dialect: str) -> dict[date, int]:
    """Active members known by the end of each week of the period."""
    active = (Member.workspace_id == scope.workspace_id, Member.active.is_(True))
    before = await session.scalar(
        select(func.count()).select_from(Member).where(*active, Member.created_at < scope.since)
    )
    joined_week = _week_sql(Member.created_at, dialect)
    joined = {
        _monday(number): int(count)
        for number, count in await session.execute(
            select(joined_week, func.count())
            .where(*active, Member.created_at >= scope.since, Member.created_at < scope.until)
            .group_by(joined_week)
        )
    }
    running = int(before or 0)
    known: dict[date, int] = {}
    for start in scope.week_starts:
        running += joined.get(start, 0)
        known[start] = running
    return known


def _add(into: dict[int, int], pairs: Any) -> None:
    for key, value in pairs:
        into[int(key)] = into.get(int(key), 0) + int(value or 0)


async def posts(session: AsyncSession, scope: Scope, split: Split) -> list[PostFigures]:
    """Every post with a figure in the period, most shared first (then most clicked, then newest)."""
    share_clicks: dict[int, int] = {}
    shares: dict[int, int] = {}
    clicks: dict[int, int] = {}
    for post_id, clicked_share, shared, clicked in await session.execute(
        select(DashboardWeek.post_id, func.sum(DashboardWeek.share_clicks), func.sum(DashboardWeek.shares),
               func.sum(DashboardWeek.clicks))
        .where(*_aggregate_filters(scope, split))
        .group_by(DashboardWeek.post_id)
    ):  # fmt: skip
        _add(share_clicks, [(post_id, clicked_share)])
        _add(shares, [(post_id, shared)])
        _add(clicks, [(post_id, clicked)])
    for _, post_id, _, _, clicked_share, shared in split.recent.shares:
        _add(share_clicks, [(post_id, clicked_share)])
        _add(shares, [(post_id, shared)])
    _add(clicks, ((post_id, count) for _, post_id, _, _, count in split.recent.clicks))
    dismissal_filters: list[Any] = [
        Dismissal.workspace_id == scope.workspace_id,
        Dismissal.created_at >= scope.since,
        Dismissal.created_at < scope.until,
    ]
    if scope.channel is not None:
        dismissal_filters.append(Dismissal.post_id.in_(_channel_posts(scope.workspace_id, scope.channel)))
    if scope.post_id is not None:
        dismissal_filters.append(Dismissal.post_id == scope.post_id)
    not_for_me: dict[int, int] = {}
    _add(
        not_for_me,
        await session.execute(
            select(Dismissal.post_id, func.count()).where(*dismissal_filters).group_by(Dismissal.post_id)
        ),
    )
    reach: dict[int, int] = {}
    reach_filters: list[Any] = [
        DashboardReachWeek.workspace_id == scope.workspace_id,
        DashboardReachWeek.week >= scope.first_week,
        DashboardReachWeek.week < scope.end_week,
    ]
    _add(
        reach,
        await session.execute(
            select(DashboardReachWeek.post_id, func.sum(DashboardReachWeek.reached))
            .where(*reach_filters)
            .group_by(DashboardReachWeek.post_id)
        ),
    )
    _add(reach, split.recent.reach)
    ids = set(shares) | set(share_clicks) | set(clicks) | set(not_for_me) | set(reach)
    if scope.post_id is not None:
        ids &= {scope.post_id}
    if scope.channel is not None and ids:
        ids &= set((await session.scalars(_channel_posts(scope.workspace_id, scope.channel))).all())
    if not ids:
        return []
    found = (
        await session.execute(
            select(Post.id, Post.title, Post.url).where(
                Post.workspace_id == scope.workspace_id, Post.id.in_(ids)
            )
        )
    ).all()
    figures = [
        PostFigures(
            post_id=post_id,
            title=title or url,
            url=url,
            reached=reach.get(post_id, 0),
            share_clicks=share_clicks.get(post_id, 0),
            shares=shares.get(post_id, 0),
            clicks=clicks.get(post_id, 0),
            not_for_me=not_for_me.get(post_id, 0),
        )
        for post_id, title, url in found
    ]
    return sorted(figures, key=lambda row: (-row.shares, -row.clicks, -row.post_id))


async def advocates(
    session: AsyncSession, scope: Scope, split: Split, *, limit: int | None = TOP_ADVOCATES
) -> list[Advocate]:
    """The members who shared most in the period (then whose links brought most clicks); every member with
    a share or a click when `limit` is None.

    With a limit, the settled weeks give only their own top `limit` (sorted in SQL), plus the members of
    the recent weeks who could still overtake them: a member outside the settled top has at most the
    shares of its last one, so only recent shares can lift them (their settled sums are then looked up
    by member, through the table's member index). The result is the same as summing every member."""
    # Erased members are named nowhere: left out before the top is cut, so that it still holds `limit`.
    erased = set(
        await session.scalars(
            select(Member.id).where(Member.workspace_id == scope.workspace_id, Member.erased_at.is_not(None))
        )
    )
    recent_shares: dict[int, int] = {}
    recent_clicks: dict[int, int] = {}
    for _, _, member_id, _, _, shared in split.recent.shares:
        if member_id is not None and member_id not in erased:
            _add(recent_shares, [(member_id, shared)])
    _add(
        recent_clicks,
        (
            (member_id, count)
            for _, _, member_id, _, count in split.recent.clicks
            if member_id is not None and member_id not in erased
        ),
    )
    summed_shares = func.sum(DashboardMemberWeek.shares)
    summed_clicks = func.sum(DashboardMemberWeek.clicks)
    settled = (
        select(DashboardMemberWeek.member_id, summed_shares, summed_clicks)
        .where(
            *_member_filters(scope),
            *([DashboardMemberWeek.member_id.not_in(sorted(erased))] if erased else []),
            # The weeks written into the SQL (ints of ours): with parameters, PostgreSQL soon reuses one
            # generic plan for every period, and a year's then took three times as long.
            DashboardMemberWeek.week >= literal_column(str(int(scope.first_week)), Integer),
            DashboardMemberWeek.week < literal_column(str(int(scope.end_week)), Integer),
        )
        .group_by(DashboardMemberWeek.member_id)
    )
    shares: dict[int, int] = {}
    clicks: dict[int, int] = {}

    async def read(query: Any) -> None:
        for member_id, shared, clicked in await session.execute(query):
            shares[int(member_id)] = int(shared or 0)
            clicks[int(member_id)] = int(clicked or 0)

    if limit is None:
        await read(settled)
        candidates = set(shares) | set(recent_shares) | set(recent_clicks)
    else:
        order = (summed_shares.desc(), summed_clicks.desc(), DashboardMemberWeek.member_id)
        await read(settled.order_by(*order).limit(limit))
        # Outside the settled top, a member has at most `floor` settled shares; the top's totals already
        # put `limit` members at `bar` shares or more.
        floor = min(shares.values()) if len(shares) >= limit else 0
        totals = sorted(
            (count + recent_shares.get(member_id, 0) for member_id, count in shares.items()), reverse=True
        )
        bar = totals[limit - 1] if len(totals) >= limit else 0
        rising = [
            member_id
            for member_id in set(recent_shares) | set(recent_clicks)
            if member_id not in shares and floor + recent_shares.get(member_id, 0) >= bar
        ]
        for start in range(0, len(rising), 10_000):
            await read(settled.where(DashboardMemberWeek.member_id.in_(rising[start : start + 10_000])))
        candidates = set(shares) | set(rising)
    for member_id in candidates:
        shares[member_id] = shares.get(member_id, 0) + recent_shares.get(member_id, 0)
        clicks[member_id] = clicks.get(member_id, 0) + recent_clicks.get(member_id, 0)
    ranked = sorted(
        (member_id for member_id in shares if shares[member_id] or clicks[member_id]),
        key=lambda member_id: (-shares[member_id], -clicks[member_id], member_id),
    )
    chosen = ranked[:limit] if limit is not None else ranked
    if not chosen:
        return []
    names: dict[int, tuple[str | None, str]] = {}
    for start in range(0, len(chosen), 10_000):
        for member_id, name, external in await session.execute(
            select(Member.id, Member.display_name, Member.external_id).where(
                Member.workspace_id == scope.workspace_id,
                Member.id.in_(chosen[start : start + 10_000]),
                Member.erased_at.is_(None),  # an erased member is named nowhere: left out
            )
        ):
            names[member_id] = (name, external)
    return [
        Advocate(
            member_id=member_id,
            name=names[member_id][0] or names[member_id][1],
            external_id=names[member_id][1],
            shares=shares.get(member_id, 0),
            clicks=clicks.get(member_id, 0),
        )
        for member_id in chosen
        if member_id in names
    ]


async def channels(session: AsyncSession, *, workspace_id: int) -> list[str]:
    """The channels posts were pushed to, for the dashboard's channel choice."""
    return list(
        (
            await session.scalars(
                select(Delivery.destination)
                .where(Delivery.workspace_id == workspace_id)
                .distinct()
                .order_by(Delivery.destination)
            )
        ).all()
    )


async def settled(session: AsyncSession, scope: Scope) -> Split:
    """`refresh`, committed, and the rows since the aggregates' watermark."""
    watermark = await refresh(session, workspace_id=scope.workspace_id, now=scope.now)
    await session.commit()
    since = max(watermark, scope.since)
    return Split(watermark=watermark, recent=await _recent(session, scope, since))


async def _recent(session: AsyncSession, scope: Scope, since: datetime) -> Recent:
    dialect = session.get_bind().dialect.name
    share_week = _week_sql(Share.created_at, dialect)
    shares = await session.execute(
        select(share_week, Share.post_id, Share.member_id, Share.network, func.count(),
               func.sum(case((share_counts(), 1), else_=0)))
        .where(*_share_filters(scope, since, scope.until, counted=False))
        .group_by(share_week, Share.post_id, Share.member_id, Share.network)
    )  # fmt: skip
    click_week = _week_sql(Click.at, dialect)
    clicks = await session.execute(
        select(
            click_week,
            TrackedLink.post_id,
            TrackedLink.member_id,
            TrackedLink.network,
            func.sum(Click.clicks),
        )
        .select_from(Click)
        .join(TrackedLink, TrackedLink.id == Click.link_id)
        .where(*_click_filters(scope, since, scope.until))
        .group_by(click_week, TrackedLink.post_id, TrackedLink.member_id, TrackedLink.network)
    )
    reach = await session.execute(
        _reach_sql(dialect, insert_into=False), _reach_params(scope.workspace_id, since, scope.until)
    )
    return Recent(
        shares=[(int(w), int(p), _member(m), Network(n), int(c), int(k or 0)) for w, p, m, n, c, k in shares],
        clicks=[(int(w), int(p), _member(m), Network(n), int(c)) for w, p, m, n, c in clicks],
        reach=[(int(post_id), int(count)) for _, _, post_id, count in reach],
    )


def _member(member_id: int | None) -> int | None:
    return None if member_id is None else int(member_id)


async def dashboard(session: AsyncSession, scope: Scope) -> Dashboard:
    split = await settled(session, scope)
    return Dashboard(
        scope=scope,
        weeks=await weekly(session, scope, split),
        posts=await posts(session, scope, split),
        advocates=await advocates(session, scope, split),
        channels=await channels(session, workspace_id=scope.workspace_id),
    )


@dataclass(frozen=True)
class ChannelShares:
    """The counted shares of a post that came from one channel (`channel` None: from a reminder or a
    personal link), per network; `name` is how the platform names the channel, the id when Relais knows
    no name."""

    channel: str | None
    name: str
    shares: dict[Network, int]

    @property
    def total(self) -> int:
        return sum(self.shares.values())


@dataclass(frozen=True)
class PostPage:
    """One post over the period: its funnel, its shares and clicks per week and network, the channels it
    was pushed to (and when), its counted shares per channel they came from (`Share.channel`), and the
    captions its counted shares used."""

    post: Post
    figures: PostFigures
    weeks: list[Week]
    pushed: list[tuple[str, datetime]]
    captions: list[tuple[str | None, int]]
    by_channel: list[ChannelShares] = field(default_factory=list)

    @property
    def shares_by_network(self) -> dict[Network, int]:
        totals: dict[Network, int] = defaultdict(int)
        for week in self.weeks:
            for network, count in week.shares.items():
                totals[network] += count
        return dict(totals)


async def post_page(session: AsyncSession, scope: Scope) -> PostPage | None:
    """The page of `scope.post_id`, None when the workspace has no such post."""
    assert scope.post_id is not None
    split = await settled(session, scope)
    post = await session.scalar(
        select(Post).where(Post.workspace_id == scope.workspace_id, Post.id == scope.post_id)
    )
    if post is None:
        return None
    found = await posts(session, scope, split)
    figures = found[0] if found else PostFigures(post_id=post.id, title=post.title or post.url, url=post.url)
    pushed = (
        await session.execute(
            select(Delivery.destination, Delivery.created_at)
            .where(Delivery.workspace_id == scope.workspace_id, Delivery.post_id == post.id)
            .order_by(Delivery.created_at, Delivery.destination)
        )
    ).all()
    captions = (
        await session.execute(
            select(Share.caption, func.count())
            .where(*_share_filters(scope, scope.since, scope.until))
            .group_by(Share.caption)
            .order_by(func.count().desc(), Share.caption)
        )
    ).all()
    return PostPage(
        post=post,
        figures=figures,
        weeks=await weekly(session, scope, split),
        pushed=[(channel, at) for channel, at in pushed],
        captions=[(caption, int(count)) for caption, count in captions],
        by_channel=await shares_by_channel(session, scope),
    )


async def shares_by_channel(session: AsyncSession, scope: Scope) -> list[ChannelShares]:
    """The scope's counted shares (as `relais export shares` counts them) per channel they came from and
    network: the channels by most shares (then name), the shares from no channel last. Read from the
    shares themselves (one post's rows, by its index), so every share so far is in."""
    counts = await session.execute(
        select(Share.channel, Share.network, func.count())
        .where(*_share_filters(scope, scope.since, scope.until))
        .group_by(Share.channel, Share.network)
    )
    found: dict[str | None, dict[Network, int]] = defaultdict(dict)
    for channel, network, count in counts:
        found[channel][Network(network)] = int(count)
    keys = [channel for channel in found if channel is not None]
    named = await conversations.names(session, keys=keys, workspace_id=scope.workspace_id)
    rows = [ChannelShares(channel, named.get(channel, channel), found[channel]) for channel in keys]
    rows.sort(key=lambda row: (-row.total, row.name, row.channel or ""))
    if None in found:
        rows.append(ChannelShares(None, "", found[None]))
    return rows
