"""The weekly rounds: the leaderboard (channel + a private rank for every participant) and the nudges.

Each round claims its period (`schedules.claim_period`) in the same transaction as the outbox rows it
enqueues, so a crash leaves either the whole round to send or nothing claimed, and a second clock (or
a second run of `relais jobs run`) finds the period taken. Each row has a dedupe key too (one nudge per
member per week, one rank message per member per week), so nothing is ever enqueued twice.

Nudges respect people: only members who have not shared for 7 days, are active, not opted out and
not paused; at the workspace's nudge day and time in their own time zone, and only on weekdays
between `WORK_START` and `WORK_END` local time (a round that could not go out then waits for the next
working hour of that week, or is skipped); after `BACKOFF_AFTER` unanswered nudges in a row, once a
month (`BACKOFF_INTERVAL`) until they share again. Opt-out and pause are checked again when sending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import members as member_service
from bot.services import outbox, progress, shared_marks, suggestions
from bot.services import posts as post_service
from bot.services.leaderboard import Board, Entry, weekly_board
from bot.services.schedules import (
    LEADERBOARD,
    NUDGES,
    Schedule,
    claim_period,
    schedule_of,
    slot_in_week,
    week_key,
    zone,
)
from bot.services.shared_marks import nudge_key
from models import Dismissal, Member, OutboxMessage, Post, PostState, Share, Workspace

logger = logging.getLogger(__name__)

LEADERBOARD_KIND: Final = "leaderboard"
RANK_KIND: Final = "rank"
NUDGE_KIND: Final = shared_marks.NUDGE_KIND

WORK_START: Final = time(9, 0)
WORK_END: Final = time(18, 0)
QUIET_DAYS: Final = timedelta(days=7)
MIN_INTERVAL: Final = timedelta(days=6)
BACKOFF_AFTER: Final = 4
BACKOFF_INTERVAL: Final = timedelta(days=28)
NUDGE_POSTS: Final = 3
RECENT_POSTS: Final = timedelta(days=30)
TIPS: Final = 6


# ---------------------------------------------------------------------------------------------------
# Leaderboard


def _entry_payload(entry: Entry) -> dict[str, Any]:
    return {
        "external_id": entry.external_id,
        "name": entry.name,
        "points": entry.points,
        "shares": entry.shares,
        "clicks": entry.clicks,
        "streak": entry.streak,
        "rank": entry.rank,
        "previous_rank": entry.previous_rank,
    }


def board_payload(board: Board, *, week: str, lang: str) -> dict[str, Any]:
    return {
        "lang": lang,
        "week": week,
        "top": [_entry_payload(e) for e in board.top],
        "climbers": [_entry_payload(e) for e in board.climbers],
        "participants": len(board.entries),
        "shares": board.shares,
        "clicks": board.clicks,
        "top_post": {
            "title": board.top_post_title,
            "url": board.top_post_url,
            "shares": board.top_post_shares,
        }
        if board.top_post_url
        else None,
    }


async def leaderboard_round(
    session: AsyncSession,
    *,
    workspace: Workspace,
    now: datetime,
    fallback_channel: str | None,
    queued_at: datetime | None = None,
) -> int | None:
    """If this week's leaderboard is due and unclaimed, claim it and enqueue the channel message and
    every participant's private rank; returns how many messages were enqueued (None if not due).
    `queued_at` (default `now`) is when the messages are due to be sent."""
    schedule = schedule_of(workspace, LEADERBOARD)
    local_now = now.astimezone(zone(workspace.timezone))
    slot = slot_in_week(schedule, local_now)
    if local_now < slot:
        return None
    week = week_key(local_now)
    if not await claim_period(session, workspace_id=workspace.id, job=LEADERBOARD, period=week, now=now):
        return None
    board = await weekly_board(session, workspace_id=workspace.id, end=slot)
    lang = str((workspace.settings or {}).get(LEADERBOARD, {}).get("lang") or "en")
    channel = schedule.channel or post_service.default_channel(workspace, fallback=fallback_channel)
    count = 0
    if channel is not None and board.entries:
        await outbox.enqueue(
            session,
            workspace_id=workspace.id,
            kind=LEADERBOARD_KIND,
            destination=channel,
            payload=board_payload(board, week=week, lang=lang),
            now=queued_at or now,
            dedupe_key=f"leaderboard:{week}:{channel}",
        )
        count += 1
    elif channel is None:
        logger.warning(
            "workspace %s has no channel for the leaderboard; ranks are sent privately", workspace.id
        )
    ranks = [
        (
            entry.external_id,
            {**_entry_payload(entry), "participants": len(board.entries), "week": week,
             "lang": entry.language, "member_id": entry.member_id},
            f"rank:{week}:{entry.member_id}",
        )
        for entry in board.entries
        if entry.active  # else left the workspace: ranked, but nobody to tell
    ]  # fmt: skip
    await outbox.enqueue_many(
        session, workspace_id=workspace.id, kind=RANK_KIND, messages=ranks, now=queued_at or now
    )
    return count + len(ranks)


# ---------------------------------------------------------------------------------------------------
# Nudges


def in_working_hours(local_now: datetime) -> bool:
    return local_now.weekday() < 5 and WORK_START <= local_now.time() < WORK_END


def nudge_due(schedule: Schedule, local_now: datetime) -> bool:
    """This week's nudge moment has come, and it is a working hour now (a late clock catches up during
    the next working hours of the same week; weekends and evenings never get one)."""
    return local_now >= slot_in_week(schedule, local_now) and in_working_hours(local_now)


async def nudge_round(
    session: AsyncSession,
    *,
    workspace: Workspace,
    now: datetime,
    admins: frozenset[str] = frozenset(),
    queued_at: datetime | None = None,
) -> int:
    """Enqueue this week's nudges for every time zone of the workspace whose moment has come; returns
    how many were enqueued. Each time zone's round is claimed once per week; a big round's progress is
    shown to the admins (`admins`: the configured ones, besides those Relais knows). `now` decides what
    is due; `queued_at` (default `now`) is when the messages are due to be sent.

    The round is planned with a few grouped reads (no query per member) before anything is written, so
    the write transaction — claim and messages — is short even for tens of thousands of members."""
    schedule = schedule_of(workspace, NUDGES)
    zones = (
        await session.scalars(
            select(member_service.timezone_column(workspace))
            .where(Member.workspace_id == workspace.id, Member.active.is_(True), Member.opted_out.is_(False))
            .distinct()
        )
    ).all()
    due = []
    for name in zones:
        try:
            local_now = now.astimezone(zone(name))
        except ValueError:
            continue  # an unknown zone name: those members have no local time to respect
        if nudge_due(schedule, local_now):
            due.append((name, week_key(local_now)))
    if not due:
        return 0
    candidates = await _recent_posts(session, workspace_id=workspace.id, now=now)
    count = 0
    for name, week in due:
        members = (
            await session.scalars(
                select(Member).where(
                    Member.workspace_id == workspace.id,
                    member_service.timezone_column(workspace) == name,
                    Member.active.is_(True),
                    Member.opted_out.is_(False),
                )
            )
        ).all()
        planned = await _plan(
            session, workspace_id=workspace.id, members=members, posts=candidates, week=week, now=now
        )
        period = f"{week}@{name}"
        if not await claim_period(session, workspace_id=workspace.id, job=NUDGES, period=period, now=now):
            continue
        round_key = f"{NUDGES}:{period}"
        at = queued_at or now
        await progress.announce(
            session,
            workspace_id=workspace.id,
            round_key=round_key,
            what=NUDGES,
            total=len(planned),
            recipients=await suggestions.admin_ids(session, workspace_id=workspace.id, configured=admins),
            now=at,
        )
        for member, payload in planned:
            await outbox.enqueue(
                session,
                workspace_id=workspace.id,
                kind=NUDGE_KIND,
                destination=member.external_id,
                payload=payload,
                now=at,
                dedupe_key=nudge_key(week, member.id),
                round_key=round_key,
            )
        count += len(planned)
    return count


def nudgeable(member: Member, now: datetime) -> bool:
    """Checked when the round is made and again when the message is sent."""
    return member.active and not member.opted_out and not (member.paused_until and member.paused_until > now)


async def _recent_posts(session: AsyncSession, *, workspace_id: int, now: datetime) -> list[Post]:
    return list(
        (
            await session.scalars(
                select(Post)
                .where(
                    Post.workspace_id == workspace_id,
                    Post.state == PostState.PUBLISHED,
                    or_(Post.published_at.is_(None), Post.published_at >= now - RECENT_POSTS),
                )
                .order_by(Post.published_at.desc(), Post.id.desc())
            )
        ).all()
    )


async def _plan(
    session: AsyncSession,
    *,
    workspace_id: int,
    members: Sequence[Member],
    posts: list[Post],
    week: str,
    now: datetime,
) -> list[tuple[Member, dict[str, Any]]]:
    """Who gets a nudge and with what, from three grouped reads: each member's last share, and which of
    the recent posts each member already shared or dismissed."""
    if not members or not posts:
        return []
    last_share = dict(
        (
            await session.execute(
                select(Share.member_id, func.max(Share.created_at))
                .where(Share.workspace_id == workspace_id)
                .group_by(Share.member_id)
            )
        ).all()
    )
    post_ids = [post.id for post in posts]
    seen: set[tuple[int, int]] = set()
    for model in (Share, Dismissal):
        rows = await session.execute(
            select(model.member_id, model.post_id).where(
                model.workspace_id == workspace_id, model.post_id.in_(post_ids)
            )
        )
        # (A share of a member who erased their data stands for nobody: no member id.)
        seen.update((member_id, post_id) for member_id, post_id in rows if member_id is not None)
    planned = []
    for member in members:
        unanswered = _unanswered_if_due(member, last_share.get(member.id), now)
        if unanswered is None:
            continue
        chosen = [post for post in posts if (member.id, post.id) not in seen][:NUDGE_POSTS]
        if not chosen:
            continue
        cards = [
            post_service.card_of(post, caption=post_service.caption_for(post, member_id=member.id))
            for post in chosen
        ]
        tip = (int(week.rsplit("W", 1)[1]) + member.id) % TIPS + 1
        planned.append(
            (
                member,
                {
                    "lang": member_service.language_of(member),
                    "posts": [card.to_payload() for card in cards],
                    "tip": tip,
                    "member_id": member.id,
                    "unanswered": unanswered,
                    "week": week,
                },
            )
        )
    return planned


def _unanswered_if_due(member: Member, last_share: datetime | None, now: datetime) -> int | None:
    """The member's count of unanswered nudges if they are due one now, else None."""
    if not nudgeable(member, now):
        return None
    if last_share is not None and last_share > now - QUIET_DAYS:
        return None
    last_nudge = member.last_nudged_at
    if last_nudge is not None and now - last_nudge < MIN_INTERVAL:
        return None  # at most one a week, even right after the schedule was moved
    answered = last_nudge is None or (last_share is not None and last_share > last_nudge)
    unanswered = 0 if answered else member.nudges_unanswered
    if unanswered >= BACKOFF_AFTER and last_nudge is not None and now - last_nudge < BACKOFF_INTERVAL:
        return None
    return unanswered


async def still_wanted(session: AsyncSession, message: OutboxMessage, now: datetime) -> bool | datetime:
    """Outbox hook just before sending. A nudge is dropped if its member opted out, paused, left or
    shared since it was made. It goes out in its member's working hours of its round's own week: before
    that week it waits for the week's first working morning (a round made ahead of time by `relais jobs
    run nudges --at`); outside working hours, for the next working morning of that week; once the week
    is over it is dropped (next week's round takes over)."""
    if message.kind != NUDGE_KIND:
        return True
    member = await session.get(Member, int(message.payload.get("member_id", 0)))
    if member is None or not nudgeable(member, now):
        return False
    shared = await session.scalar(
        select(func.max(Share.created_at)).where(
            Share.member_id == member.id, Share.created_at > message.created_at
        )
    )
    if shared is not None:
        return False
    workspace = await session.get_one(Workspace, member.workspace_id)
    try:
        local = now.astimezone(zone(member_service.timezone_of(member, workspace)))
    except ValueError:
        return True
    week = str(message.payload.get("week") or week_key(local))  # older rows: the week they are sent in
    if week_key(local) > week:
        return False
    if week_key(local) < week:
        year, number = (int(part) for part in week.split("-W"))
        local = datetime.combine(date.fromisocalendar(year, number, 1), time(0), tzinfo=local.tzinfo)
    elif in_working_hours(local):
        return True
    day = local.date() if local.time() < WORK_START else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    morning = datetime.combine(day, WORK_START, tzinfo=local.tzinfo)
    if week_key(morning) != week:
        return False
    return morning.astimezone(now.tzinfo)


async def nudge_delivered(session: AsyncSession, message: OutboxMessage, now: datetime) -> None:
    """A nudge reached its member: the back-off counts it (only delivered nudges count)."""
    unanswered = int(message.payload.get("unanswered", 0))
    await session.execute(
        update(Member)
        .where(Member.id == int(message.payload.get("member_id", 0)))
        .values(last_nudged_at=now, nudges_unanswered=unanswered + 1)
    )
