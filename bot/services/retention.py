"""RELAIS_RETENTION_DAYS: old click rows and finished outbox messages deleted by the clock's hourly
`retention` job, with every figure people see the same after as before; and visitors' keys forgotten.

What the job does in each workspace, in bounded batches (each its own short transaction; no network call):

- counted clicks stamped before the cutoff are folded: a link's clicks of one week become weekly rows
  (usually one; a batch boundary or runs at once may leave several, whose `Click.clicks` add up), dated
  at the week's start, without hour or visitor. A week straddling the new year is cut there (SQLite's
  weeks, `%Y-%W`, the points' cap, are). Every reader adds up
  `Click.clicks` and groups clicks by week, so points (capped per link and week), ranks, `/relais me`,
  the leaderboard, `/relais stats` and the dashboard are the same after; the clicks export then has
  weekly rows for those weeks (its `clicks` column says how many);
- uncounted clicks (written before revision 0006) and visit tallies (robots, repeats, withdrawn posts)
  stamped before the cutoff are deleted: no figure reads them;
- finished outbox messages (sent, failed, cancelled) last changed before the cutoff are deleted, except a
  channel push refused for good (`/relais stats <id>` lists those; a channel, not a person) and the
  messages of a round still under way (its progress message counts them). The dashboard's aggregates are
  brought up to date first, and keep the members reached of those weeks (`RetentionHorizon`);
- first of all, the salts of past UTC days are deleted (`bot.services.links.DailySalts`; today's, and
  tomorrow's in the day's last hours, are made ahead so that midnight is only a read) and the visitor keys
  of clicks before today are cleared, so that nobody, even with the database and every secret of the
  install, can tell which address an old key stood for. The job runs every hour: a day's salt and keys
  are gone within the hour after the day ends.

The cutoff is the Monday 00:00 UTC on or before `now - RELAIS_RETENTION_DAYS`: whole weeks only, so that
no week's figures are half rows, half folded.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.db import chunks, insert_ignoring_conflicts
from bot.services import analytics, links, workspace_erasure
from bot.services.posts import POST_KIND
from models import (
    Click,
    OutboxMessage,
    OutboxState,
    RetentionHorizon,
    VisitorSalt,
    VisitTally,
    Workspace,
)

logger = logging.getLogger(__name__)

BATCH: Final = 2_000  # rows per transaction: a few milliseconds of the database's write lock
SALT_AHEAD: Final = timedelta(
    hours=2
)  # tomorrow's salt is made this long before midnight (the job is hourly)
STRAGGLERS: Final = timedelta(hours=1)  # keys of visits still under way when the last run cleared
FINISHED: Final = (OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELLED)
UNFINISHED: Final = (OutboxState.PENDING, OutboxState.SENDING)

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Swept:
    """What one run did, as counts."""

    folded: int = 0  # counted click rows folded into weekly rows
    weekly: int = 0  # weekly rows they became
    clicks: int = 0  # uncounted click rows deleted
    tallies: int = 0
    messages: int = 0
    visitors: int = 0  # clicks whose visitor key was cleared
    salts: int = 0

    def __add__(self, other: Swept) -> Swept:
        return Swept(*(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True)))

    def summary(self) -> str:
        return (
            f"{self.folded} clicks folded into {self.weekly} weekly rows, {self.clicks} uncounted clicks, "
            f"{self.tallies} visit tallies and {self.messages} messages deleted, {self.visitors} visitor "
            f"keys cleared, {self.salts} salts deleted"
        )


def cutoff(now: datetime, days: int) -> datetime:
    """The Monday 00:00 UTC on or before `now - days`: rows stamped before it go."""
    day = (now - timedelta(days=days)).astimezone(UTC).date()
    return _midnight(day - timedelta(days=day.weekday()))


def week_start(at: datetime) -> datetime:
    """Where the folded row of a click at `at` is dated: its week's Monday, or the 1st of January when the
    week began the year before (every database's weeks, ISO's and SQLite's `%Y-%W`, hold it whole)."""
    day = at.astimezone(UTC).date()
    return _midnight(max(day - timedelta(days=day.weekday()), date(day.year, 1, 1)))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def sweep(sessions: Sessions, *, now: datetime, days: int, batch: int = BATCH) -> Swept:
    """Apply the retention to every workspace (uninstalled ones too: their old rows go as well, until the
    workspace is removed, `bot.services.workspace_erasure`), `batch` rows per transaction. Visitors' past
    salts and keys go first, and one workspace failing does not stop the others (it is logged, and the
    next run takes it up where it was)."""
    before = cutoff(now, days)
    today = _midnight(now.astimezone(UTC).date())
    salts = await forget_salts(sessions, now=now)
    async with sessions() as session:
        # Not a workspace removed for its uninstall (`bot.services.workspace_erasure`): nothing is left.
        kept = select(Workspace.id).where(workspace_erasure.kept(now))
        workspaces = (await session.scalars(kept.order_by(Workspace.id))).all()
    done = Swept(salts=salts)
    for workspace_id in workspaces:
        try:
            done += await _workspace(sessions, workspace_id, now=now, before=before, today=today, batch=batch)
        except Exception:
            logger.exception("retention: workspace %s failed; the next run takes it up again", workspace_id)
    return done


async def forget_salts(sessions: Sessions, *, now: datetime) -> int:
    """Delete the salts of the UTC days before `now`'s (how many), and make sure today's exists, and
    tomorrow's in the last `SALT_AHEAD` of the day, so that a web process only reads it at midnight. Clicks
    are deduplicated within UTC hours, which never straddle midnight: a past day's salt is of no more use
    (a process still counting a visit of 23:59 has it in memory, `links.DailySalts`)."""
    today = now.astimezone(UTC).date()
    async with sessions() as session:
        gone = await session.execute(delete(VisitorSalt).where(VisitorSalt.day < today))
        await session.commit()
    async with sessions() as session:
        await links.salt_of(session, today)
        if _midnight(today + timedelta(days=1)) - now <= SALT_AHEAD:
            await links.salt_of(session, today + timedelta(days=1))
    return _count(gone)


async def _workspace(
    sessions: Sessions, workspace_id: int, *, now: datetime, before: datetime, today: datetime, batch: int
) -> Swept:
    # Keys first: they are what must not outlive their day.
    async with sessions() as session:
        await session.execute(
            insert_ignoring_conflicts(session, RetentionHorizon.__table__, [{"workspace_id": workspace_id}])
        )
        horizon = await session.get_one(RetentionHorizon, workspace_id)
        deleted_before, folded_before, cleared_before = (
            horizon.deleted_before,
            horizon.folded_before,
            horizon.cleared_before,
        )
        await session.commit()
    # From an hour before the last run's horizon: a visit of 23:59 still under way when it ran.
    visitors = await _clear_visitors(
        sessions,
        workspace_id,
        since=None if cleared_before is None else cleared_before - STRAGGLERS,
        before=today,
        batch=batch,
    )
    async with sessions() as session:
        horizon = await session.get_one(RetentionHorizon, workspace_id)
        horizon.cleared_before = max(cleared_before or today, today)
        await session.commit()
    if deleted_before is None or deleted_before < before:
        # The dashboard's aggregates first hold every week about to lose rows; from then on a rebuild leaves
        # the members reached of those weeks as they are (`analytics._reach_kept_before`).
        async with sessions() as session:
            await analytics.refresh(session, workspace_id=workspace_id, now=now)
            await session.commit()
        async with sessions() as session:
            horizon = await session.get_one(RetentionHorizon, workspace_id)
            horizon.deleted_before = before
            await session.commit()
    folded, weekly, uncounted = await _fold_clicks(
        sessions, workspace_id, since=folded_before, before=before, batch=batch
    )
    tallies = await _delete_batches(
        sessions,
        VisitTally,
        VisitTally.hour,
        [VisitTally.workspace_id == workspace_id, VisitTally.hour < before],
        batch,
    )
    messages = await _delete_batches(
        sessions,
        OutboxMessage,
        OutboxMessage.updated_at,
        [OutboxMessage.workspace_id == workspace_id, OutboxMessage.updated_at < before, _finished()],
        batch,
    )
    async with sessions() as session:
        horizon = await session.get_one(RetentionHorizon, workspace_id)
        horizon.folded_before = max(folded_before or before, before)
        await session.commit()
    return Swept(folded, weekly, uncounted, tallies, messages, visitors)


def _finished() -> ColumnElement[bool]:
    """Finished messages that may go: not a channel push refused for good (`/relais stats <id>` lists
    them), nor one of a round still under way (its progress message counts the round's settled ones)."""
    other = aliased(OutboxMessage)
    under_way = exists().where(
        other.workspace_id == OutboxMessage.workspace_id,
        other.round_key == OutboxMessage.round_key,
        other.state.in_(UNFINISHED),
    )
    refused_push = (OutboxMessage.kind == POST_KIND) & (OutboxMessage.state == OutboxState.FAILED)
    return (
        OutboxMessage.state.in_(FINISHED) & ~refused_push & (OutboxMessage.round_key.is_(None) | ~under_way)
    )


def _after(stamp: Any, id_column: Any, cursor: tuple[datetime, int] | None) -> list[ColumnElement[bool]]:
    """Keyset pagination on (stamp, id): the rows after the last one of the previous batch. `stamp >= at`
    is the index's bound (PostgreSQL does not find one in the `or_` alone, and would scan from the start)."""
    if cursor is None:
        return []
    at, last_id = cursor
    return [stamp >= at, or_(stamp > at, (stamp == at) & (id_column > last_id))]


async def _batch_ids(
    session: AsyncSession,
    model: Any,
    stamp: Any,
    where: Sequence[ColumnElement[bool]],
    cursor: Any,
    batch: int,
) -> list[tuple[datetime, int]]:
    rows = await session.execute(
        select(stamp, model.id)
        .where(*where, *_after(stamp, model.id, cursor))
        .order_by(stamp, model.id)
        .limit(batch)
    )
    return [(at, row_id) for at, row_id in rows.all()]


async def _delete_batches(
    sessions: Sessions, model: Any, stamp: Any, where: Sequence[ColumnElement[bool]], batch: int
) -> int:
    """Delete the rows of `model` matching `where`, `batch` at a time in stamp order; how many. The DELETE
    says `where` again: a row another run (or an erasure) changed or deleted meanwhile is not counted."""
    deleted = 0
    cursor: tuple[datetime, int] | None = None
    while True:
        async with sessions() as session:
            rows = await _batch_ids(session, model, stamp, where, cursor, batch)
            if not rows:
                return deleted
            for some in chunks([row_id for _, row_id in rows]):
                done = await session.execute(delete(model).where(model.id.in_(some), *where))
                deleted += _count(done)
            await session.commit()
        cursor = rows[-1]


async def _fold_clicks(
    sessions: Sessions, workspace_id: int, *, since: datetime | None, before: datetime, batch: int
) -> tuple[int, int, int]:
    """Fold the workspace's counted clicks stamped in [`since`, `before`) into weekly rows and delete the
    uncounted ones; (rows folded, weekly rows made, uncounted rows deleted). Only the rows the DELETE itself
    returned are folded: two runs at once, or a run and an erasure deleting a member's clicks, never count
    a click twice nor bring an erased one back. Rows made by this run have ids above every row there was
    when it began, and are not read again: a run cut short and run again folds its own weekly rows once
    more, which only adds up the same clicks."""
    async with sessions() as session:
        last_id = await session.scalar(select(func.max(Click.id)))
    if last_id is None:
        return 0, 0, 0
    where = [Click.workspace_id == workspace_id, Click.at < before, Click.id <= last_id]
    if since is not None:
        where.append(Click.at >= since)
    folded = weekly = uncounted = 0
    cursor: tuple[datetime, int] | None = None
    while True:
        async with sessions() as session:
            rows = await _batch_ids(session, Click, Click.at, where, cursor, batch)
            if not rows:
                return folded, weekly, uncounted
            weeks: dict[tuple[int, datetime], int] = defaultdict(int)
            for some in chunks([row_id for _, row_id in rows]):
                gone = await session.execute(
                    delete(Click)
                    .where(Click.id.in_(some), *where)
                    .returning(Click.link_id, Click.at, Click.clicks, Click.counted)
                )
                for link_id, at, clicks, counted in gone.all():
                    if counted:
                        weeks[link_id, week_start(at)] += clicks
                        folded += 1
                    else:
                        uncounted += 1
            if weeks:
                await session.execute(
                    insert(Click),
                    [
                        {"workspace_id": workspace_id, "link_id": link_id, "at": start, "hour": None,
                         "counted": True, "reason": None, "visitor": None, "clicks": clicks}
                        for (link_id, start), clicks in weeks.items()
                    ],
                )  # fmt: skip
            await session.commit()
        weekly += len(weeks)
        cursor = rows[-1]


async def _clear_visitors(
    sessions: Sessions, workspace_id: int, *, since: datetime | None, before: datetime, batch: int
) -> int:
    """Clear the visitor keys of the workspace's clicks stamped in [`since`, `before`); how many."""
    where = [Click.workspace_id == workspace_id, Click.at < before, Click.visitor.is_not(None)]
    if since is not None:
        where.append(Click.at >= since)
    cleared = 0
    cursor: tuple[datetime, int] | None = None
    while True:
        async with sessions() as session:
            rows = await _batch_ids(session, Click, Click.at, where, cursor, batch)
            if not rows:
                return cleared
            for some in chunks([row_id for _, row_id in rows]):
                done = await session.execute(
                    update(Click).where(Click.id.in_(some), *where).values(visitor=None)
                )
                cleared += _count(done)
            await session.commit()
        cursor = rows[-1]


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
