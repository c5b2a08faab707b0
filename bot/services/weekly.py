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
from datetime import datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Language
from bot.services import members as member_service
from bot.services import outbox, progress, suggestions
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
from models import Dismissal, Member, OutboxMessage, Post, PostState, Share, Workspace

logger = logging.getLogger(__name__)

LEADERBOARD_KIND: Final = "leaderboard"
RANK_KIND: Final = "rank"
NUDGE_KIND: Final = "nudge"

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
    session: AsyncSession, *, workspace: Workspace, now: datetime, fallback_channel: str | None
) -> int | None:
    """If this week's leaderboard is due and unclaimed, claim it and enqueue the channel message and
    every participant's private rank; returns how many messages were enqueued (None if not due)."""
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
    channel = schedule.channel or workspace.default_channel or fallback_channel
    count = 0
    if channel is not None and board.entries:
        await outbox.enqueue(
            session,
            workspace_id=workspace.id,
            kind=LEADERBOARD_KIND,
            destination=channel,
            payload=board_payload(board, week=week, lang=lang),
            now=now,
            dedupe_key=f"leaderboard:{week}:{channel}",
        )
        count += 1
    elif channel is None:
        logger.warning(
            "workspace %s has no channel for the leaderboard; ranks are sent privately", workspace.id
        )
    languages = await _languages(session, [e.member_id for e in board.entries])
    for entry in board.entries:
        if entry.member_id not in languages:
            continue  # left the workspace: ranked, but nobody to tell
        await outbox.enqueue(
            session,
            workspace_id=workspace.id,
            kind=RANK_KIND,
            destination=entry.external_id,
            payload={**_entry_payload(entry), "participants": len(board.entries), "week": week,
                     "lang": languages.get(entry.member_id, "en"), "member_id": entry.member_id},
            now=now,
            dedupe_key=f"rank:{week}:{entry.member_id}",
        )  # fmt: skip
        count += 1
    return count


async def _languages(session: AsyncSession, member_ids: list[int]) -> dict[int, Language]:
    if not member_ids:
        return {}
    """The language of each of these members who is still active."""
    members = await session.scalars(select(Member).where(Member.id.in_(member_ids), Member.active.is_(True)))
    return {member.id: member_service.language_of(member) for member in members}


# ---------------------------------------------------------------------------------------------------
# Nudges


def in_working_hours(local_now: datetime) -> bool:
    return local_now.weekday() < 5 and WORK_START <= local_now.time() < WORK_END


def nudge_due(schedule: Schedule, local_now: datetime) -> bool:
    """This week's nudge moment has come, and it is a working hour now (a late clock catches up during
    the next working hours of the same week; weekends and evenings never get one)."""
    return local_now >= slot_in_week(schedule, local_now) and in_working_hours(local_now)


async def nudge_round(
    session: AsyncSession, *, workspace: Workspace, now: datetime, admins: frozenset[str] = frozenset()
) -> int:
    """Enqueue this week's nudges for every time zone of the workspace whose moment has come; returns
    how many were enqueued. Each time zone's round is claimed once per week; a big round's progress is
    shown to the admins (`admins`: the configured ones, besides those Relais knows)."""
    schedule = schedule_of(workspace, NUDGES)
    zones = (
        await session.scalars(
            select(func.coalesce(Member.timezone, workspace.timezone))
            .where(Member.workspace_id == workspace.id, Member.active.is_(True), Member.opted_out.is_(False))
            .distinct()
        )
    ).all()
    count = 0
    for name in zones:
        try:
            tz = zone(name)
        except ValueError:
            tz = zone(workspace.timezone)
        local_now = now.astimezone(tz)
        if not nudge_due(schedule, local_now):
            continue
        period = f"{week_key(local_now)}@{name}"
        if not await claim_period(session, workspace_id=workspace.id, job=NUDGES, period=period, now=now):
            continue
        members = (
            await session.scalars(
                select(Member).where(
                    Member.workspace_id == workspace.id,
                    func.coalesce(Member.timezone, workspace.timezone) == name,
                )
            )
        ).all()
        week = week_key(local_now)
        planned = []
        for member in members:
            nudge = await _plan_nudge(session, workspace=workspace, member=member, week=week, now=now)
            if nudge is not None:
                planned.append((member, *nudge))
        round_key = f"{NUDGES}:{period}"
        await progress.announce(
            session,
            workspace_id=workspace.id,
            round_key=round_key,
            what=NUDGES,
            total=len(planned),
            recipients=await suggestions.admin_ids(session, workspace_id=workspace.id, configured=admins),
            now=now,
        )
        for member, payload, unanswered in planned:
            await outbox.enqueue(
                session,
                workspace_id=workspace.id,
                kind=NUDGE_KIND,
                destination=member.external_id,
                payload=payload,
                now=now,
                dedupe_key=f"nudge:{week}:{member.id}",
                round_key=round_key,
            )
            await session.execute(
                update(Member)
                .where(Member.id == member.id)
                .values(last_nudged_at=now, nudges_unanswered=unanswered + 1, updated_at=now)
            )
        count += len(planned)
    return count


def nudgeable(member: Member, now: datetime) -> bool:
    """Checked when the round is made and again when the message is sent."""
    return member.active and not member.opted_out and not (member.paused_until and member.paused_until > now)


async def _plan_nudge(
    session: AsyncSession, *, workspace: Workspace, member: Member, week: str, now: datetime
) -> tuple[dict[str, Any], int] | None:
    """The member's nudge payload and their unanswered-nudge count before it, or None (no nudge)."""
    if not nudgeable(member, now):
        return None
    last_share = await session.scalar(select(func.max(Share.created_at)).where(Share.member_id == member.id))
    if last_share is not None and last_share > now - QUIET_DAYS:
        return None
    last_nudge = member.last_nudged_at
    if last_nudge is not None and now - last_nudge < MIN_INTERVAL:
        return None  # at most one a week, even right after the schedule was moved
    answered = last_nudge is None or (last_share is not None and last_share > last_nudge)
    unanswered = 0 if answered else member.nudges_unanswered
    if unanswered >= BACKOFF_AFTER and last_nudge is not None and now - last_nudge < BACKOFF_INTERVAL:
        return None
    posts = (
        await session.scalars(
            select(Post)
            .where(
                Post.workspace_id == workspace.id,
                Post.state == PostState.PUBLISHED,
                or_(Post.published_at.is_(None), Post.published_at >= now - RECENT_POSTS),
                ~exists().where(Share.post_id == Post.id, Share.member_id == member.id),
                ~exists().where(Dismissal.post_id == Post.id, Dismissal.member_id == member.id),
            )
            .order_by(Post.published_at.desc(), Post.id.desc())
            .limit(NUDGE_POSTS)
        )
    ).all()
    if not posts:
        return None
    cards = [
        post_service.card_of(post, caption=post_service.caption_for(post, member_id=member.id)).to_payload()
        for post in posts
    ]
    tip = (int(week.rsplit("W", 1)[1]) + member.id) % TIPS + 1
    payload = {"lang": member_service.language_of(member), "posts": cards, "tip": tip, "member_id": member.id}
    return payload, unanswered


async def still_wanted(session: AsyncSession, message: OutboxMessage, now: datetime) -> bool:
    """Outbox hook before sending: a nudge to someone who opted out, paused or left since is dropped."""
    if message.kind != NUDGE_KIND:
        return True
    member = await session.get(Member, int(message.payload.get("member_id", 0)))
    return member is not None and nudgeable(member, now)
