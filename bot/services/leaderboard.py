"""The weekly leaderboard: everyone's points for a week, ranked, with last week's ranks beside them.

A week's points (one aggregate query over shares and clicks): a posted share `POSTED_POINTS`, an
intent share `INTENT_POINTS`, each counted click the member's links brought 1 (at most `CLICK_CAP` per
link in the week), plus a streak bonus — `STREAK_POINTS` for each of the up to `STREAK_WEEKS` weeks
before it in a row in which the member also shared — for members who shared this week. Ties are broken
by shares, then by who shared first, then by member id, so a rank is always the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Language, language_for
from bot.services.scores import CLICK_CAP, share_counts, share_points
from models import Click, Member, Post, Share, TrackedLink, UTCDateTime

STREAK_POINTS: Final = 5
STREAK_WEEKS: Final = 4
TOP: Final = 10
CLIMBERS: Final = 3
WEEK: Final = timedelta(days=7)


@dataclass(frozen=True)
class Entry:
    member_id: int
    external_id: str
    name: str | None
    points: int
    shares: int
    clicks: int
    streak: int  # weeks in a row before this one with a share
    rank: int
    previous_rank: int | None
    language: Language = "en"  # the member's, for their private rank
    active: bool = True  # False: left the workspace (ranked, but nobody to tell)


@dataclass(frozen=True)
class Board:
    start: datetime
    end: datetime
    entries: tuple[Entry, ...]  # every participant, ranked
    climbers: tuple[Entry, ...]
    shares: int
    clicks: int
    top_post_title: str | None
    top_post_url: str | None
    top_post_shares: int

    @property
    def top(self) -> tuple[Entry, ...]:
        return self.entries[:TOP]


@dataclass(frozen=True)
class _Row:
    member_id: int
    points: int
    shares: int
    clicks: int
    first_at: datetime | None  # of the first share in the week (None: clicks only)
    streak: int
    external_id: str
    name: str | None
    language: Language
    active: bool
    erased: bool = False  # an erased member's: in the totals, never on the board


@dataclass(frozen=True)
class _Anonymous:
    """A week's shares and clicks that stand for nobody (`bot.services.erasure`): in the totals only."""

    shares: int = 0
    clicks: int = 0


async def _week_rows(
    session: AsyncSession, workspace_id: int, start: datetime, end: datetime
) -> tuple[list[_Row], _Anonymous]:
    shares = select(
        Share.member_id.label("member_id"),
        share_points().label("points"),
        literal(1).label("shares"),
        literal(0).label("clicks"),
        Share.created_at.label("at"),
    ).where(
        Share.workspace_id == workspace_id,
        share_counts(),
        Share.created_at >= start,
        Share.created_at < end,
    )
    per_link = (
        select(Click.link_id, func.sum(Click.clicks).label("n"))
        .where(Click.workspace_id == workspace_id, Click.counted.is_(True), Click.at >= start, Click.at < end)
        .group_by(Click.link_id)
        .subquery()
    )
    clicks = select(
        TrackedLink.member_id.label("member_id"),
        case((per_link.c.n > CLICK_CAP, CLICK_CAP), else_=per_link.c.n).label("points"),
        literal(0).label("shares"),
        per_link.c.n.label("clicks"),
        literal(None, type_=UTCDateTime()).label("at"),  # ties go by who *shared* first
    ).join(per_link, per_link.c.link_id == TrackedLink.id)
    both = union_all(shares, clicks).subquery()
    # Weeks before this one, in a row, with a counted share (one column per week back).
    weeks_back = [
        func.max(
            case(
                (
                    (Share.created_at >= start - WEEK * k) & (Share.created_at < start - WEEK * (k - 1)),
                    1,
                ),
                else_=0,
            )
        ).label(f"w{k}")
        for k in range(1, STREAK_WEEKS + 1)
    ]
    history = (
        select(Share.member_id.label("member_id"), *weeks_back)
        .where(
            Share.workspace_id == workspace_id,
            share_counts(),
            Share.created_at >= start - WEEK * STREAK_WEEKS,
            Share.created_at < start,
        )
        .group_by(Share.member_id)
        .subquery()
    )
    totals = (
        select(
            both.c.member_id,
            func.sum(both.c.points).label("points"),
            func.sum(both.c.shares).label("shares"),
            func.sum(both.c.clicks).label("clicks"),
            func.min(both.c.at).label("first_at"),
            *(func.max(getattr(history.c, f"w{k}")).label(f"w{k}") for k in range(1, STREAK_WEEKS + 1)),
        )
        .outerjoin(history, history.c.member_id == both.c.member_id)
        .group_by(both.c.member_id)
        .subquery()
    )
    # Who each participant is, in the same statement: no lookup of tens of thousands of ids after it.
    # Outer: the shares and clicks that stand for nobody (their members erased their data) are one row
    # with no member.
    query = select(
        *totals.c,
        Member.external_id,
        Member.display_name,
        Member.language,
        Member.locale,
        Member.active,
        Member.erased_at,
    ).outerjoin(Member, Member.id == totals.c.member_id)
    rows = []
    anonymous = _Anonymous()
    for found in await session.execute(query):
        member_id, points, share_count, click_count, first_at = found[:5]
        if member_id is None:
            anonymous = _Anonymous(int(share_count or 0), int(click_count or 0))
            continue
        weeks = found[5 : 5 + STREAK_WEEKS]
        external_id, name, chosen, locale, active, erased_at = found[5 + STREAK_WEEKS :]
        streak = 0
        for week in weeks:
            if not week:
                break
            streak += 1
        share_count = int(share_count or 0)
        bonus = STREAK_POINTS * streak if share_count else 0
        rows.append(
            _Row(
                member_id, int(points or 0) + bonus, share_count, int(click_count or 0), first_at, streak,
                external_id, name, language_for(chosen=chosen, locale=locale), bool(active),
                erased=erased_at is not None,
            )
        )  # fmt: skip
    return [row for row in rows if row.points > 0], anonymous


def _ranked(rows: list[_Row], end: datetime) -> list[_Row]:
    return sorted(rows, key=lambda r: (-r.points, -r.shares, r.first_at or end, r.member_id))


async def weekly_board(session: AsyncSession, *, workspace_id: int, end: datetime) -> Board:
    """The board of the 7 days before `end`, with each participant's rank of the 7 days before that.
    Members who erased their data count in the week's totals but are ranked nowhere (nobody to name): their
    shares stand for nobody, and a member erased while their rows were read is left out of the ranks."""
    start = end - WEEK
    rows, anonymous = await _week_rows(session, workspace_id, start, end)
    this_week = _ranked([row for row in rows if not row.erased], end)
    last_week = _ranked(
        [row for row in (await _week_rows(session, workspace_id, start - WEEK, start))[0] if not row.erased],
        start,
    )
    previous = {row.member_id: rank for rank, row in enumerate(last_week, 1)}
    entries = tuple(
        Entry(
            member_id=row.member_id,
            external_id=row.external_id,
            name=row.name,
            points=row.points,
            shares=row.shares,
            clicks=row.clicks,
            streak=row.streak,
            rank=rank,
            previous_rank=previous.get(row.member_id),
            language=row.language,
            active=row.active,
        )
        for rank, row in enumerate(this_week, 1)
    )
    climbers = tuple(
        sorted(
            (e for e in entries if e.previous_rank is not None and e.previous_rank > e.rank),
            key=lambda e: (e.rank - (e.previous_rank or 0), e.rank),
        )[:CLIMBERS]
    )
    top_post = (
        await session.execute(
            select(Post.title, Post.url, func.count().label("n"))
            .join(Share, Share.post_id == Post.id)
            .where(
                Share.workspace_id == workspace_id,
                share_counts(),
                Share.created_at >= start,
                Share.created_at < end,
            )
            .group_by(Post.id, Post.title, Post.url)
            .order_by(func.count().desc(), Post.id)
            .limit(1)
        )
    ).first()
    return Board(
        start=start,
        end=end,
        entries=entries,
        climbers=climbers,
        shares=sum(row.shares for row in rows) + anonymous.shares,
        clicks=sum(row.clicks for row in rows) + anonymous.clicks,
        top_post_title=top_post[0] if top_post else None,
        top_post_url=top_post[1] if top_post else None,
        top_post_shares=int(top_post[2]) if top_post else 0,
    )
