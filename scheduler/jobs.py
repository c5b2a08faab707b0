"""The clock's jobs. Each is thin: open a session, call services, then send what they enqueued.

`JOBS` lists them with how often the clock runs them; `relais clock` and `relais jobs run` both call
them through `run_job`, which records the run for `relais jobs list`. Every job takes the current time
from `now`, so `relais jobs run <job> --at <time>` runs one as if the clock read that time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DEFAULT_RETENTION_DAYS
from bot.db import insert_ignoring_conflicts
from bot.services import (
    analytics,
    connections,
    delivery,
    erasure,
    inbound,
    outbox,
    retention,
    web_sessions,
    weekly,
    workspace_erasure,
)
from bot.services import posts as post_service
from bot.services.posting import Poster
from models import ClockJob, OutboxMessage, OutboxState, Workspace

logger = logging.getLogger(__name__)

# What `relais jobs run` waits for before exiting: messages held back a moment by the pacing.
SOON: Final = timedelta(seconds=5)

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Context:
    """What every job gets: the database, where chat messages go, the time, the API poster.

    `now` is the time the job acts at (what is due, which week it is); `send_now`, the real time, is
    what the outbox keeps its books by. They differ only for `relais jobs run --at`, so that a job run
    as if at another time still sends at once and never confuses a running clock's drainer."""

    sessions: Sessions
    # By platform name: each workspace's messages go through its platform's notifier; a platform not
    # configured has none, and its messages wait in the outbox.
    notifiers: outbox.Notifiers
    now: Callable[[], datetime]
    poster: Poster | None = None  # None: no API shares to retry (no network configured)
    fallback_channel: str | None = None
    admins: frozenset[str] = frozenset()  # RELAIS_ADMINS, told when a channel cannot be posted in
    send_now: Callable[[], datetime] | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS  # RELAIS_RETENTION_DAYS
    # Revokes the social tokens of the workspaces the retention job removes (None: deleted unrevoked).
    tokens: workspace_erasure.Tokens | None = None

    def sending_now(self) -> datetime:
        return (self.send_now or self.now)()


async def drain(ctx: Context) -> int:
    """Send the chat messages waiting in the outbox, each workspace's through its platform's notifier
    (nudges to people who opted out since are dropped), then bring the big rounds' progress messages up
    to date."""
    return await delivery.deliver(
        ctx.sessions, notifiers=ctx.notifiers, now=ctx.sending_now, admins=ctx.admins
    )


async def drain_all(ctx: Context, passes: int = 1000) -> int:
    """Drain until nothing is due within `SOON` (for `relais jobs run`, which exits afterwards): a
    message held back by the per-destination pacing is due a second or so later, so the command waits
    for it rather than leave it behind. Later ones (reminders waiting for their moment, retries after a
    failure) are left to the clock."""
    total = 0
    for _ in range(passes):
        sent = await drain(ctx)
        total += sent
        async with ctx.sessions() as session:
            next_due = await session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.state == OutboxState.PENDING,
                    OutboxMessage.kind.not_in(outbox.NOT_CHAT_KINDS),
                    outbox.of_platforms(outbox.served_platforms(ctx.notifiers)),
                )
            )
        if next_due is None:
            break
        wait = (next_due - ctx.sending_now()).total_seconds()
        if wait > SOON.total_seconds() or (wait <= 0 and not sent):
            break  # later, or due and yet not sent (another drainer has it): nothing to wait for
        await asyncio.sleep(max(wait, 0))
    return total


async def publish(ctx: Context) -> tuple[list[int], list[int]]:
    """Publish scheduled posts whose time has come, expire old ones; (published ids, expired ids)."""
    async with ctx.sessions() as session:
        published = await post_service.publish_due(session, now=ctx.now(), queued_at=ctx.sending_now())
        expired = await post_service.expire_due(session, now=ctx.now(), queued_at=ctx.sending_now())
        await session.commit()
    await drain(ctx)
    return published, expired


async def _per_workspace(
    ctx: Context, work: Callable[[AsyncSession, Workspace], Awaitable[int | None]]
) -> int:
    """Run `work` for each workspace in its own transaction (its claim and its messages together); not
    for a workspace the app was uninstalled from (`Workspace.uninstalled_at`)."""
    async with ctx.sessions() as session:
        served = select(Workspace.id).where(Workspace.uninstalled_at.is_(None))
        ids = (await session.scalars(served.order_by(Workspace.id))).all()
    total = 0
    for workspace_id in ids:
        async with ctx.sessions() as session:
            workspace = await session.get_one(Workspace, workspace_id)
            total += await work(session, workspace) or 0
            await session.commit()
    return total


async def nudges(ctx: Context) -> str:
    """This week's reminders, for each time zone whose moment has come (in working hours).

    Made ahead of time (`relais jobs run nudges --at` a later moment), they wait for that moment: a
    reminder never reaches anyone before its round's time, nor outside their working hours of the
    round's week. The summary says how many wait, and until when."""
    queued_at = max(ctx.now(), ctx.sending_now())
    count = await _per_workspace(
        ctx,
        lambda s, w: weekly.nudge_round(
            s, workspace=w, now=ctx.now(), admins=ctx.admins, queued_at=queued_at
        ),
    )
    await drain(ctx)
    waiting, until = await _waiting(ctx, weekly.NUDGE_KIND)
    if not waiting:
        return f"{count} reminders"
    return f"{count} reminders; {waiting} waiting until {until:%Y-%m-%d %H:%M} UTC"


async def _waiting(ctx: Context, kind: str) -> tuple[int, datetime | None]:
    """How many messages of `kind` wait for a later time, and the latest time they wait for."""
    async with ctx.sessions() as session:
        count, until = (
            await session.execute(
                select(func.count(), func.max(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.kind == kind,
                    OutboxMessage.state == OutboxState.PENDING,
                    OutboxMessage.next_attempt_at > ctx.sending_now(),
                )
            )
        ).one()
    return int(count), until


async def leaderboard(ctx: Context) -> str:
    """This week's leaderboard and private ranks, for each workspace whose moment has come."""
    count = await _per_workspace(
        ctx,
        lambda s, w: weekly.leaderboard_round(
            s, workspace=w, now=ctx.now(), fallback_channel=ctx.fallback_channel, queued_at=ctx.sending_now()
        ),
    )
    await drain(ctx)
    return f"{count} leaderboard messages"


async def connection_warnings(ctx: Context) -> str:
    """LinkedIn connections ending within a week (told once); the hourly housekeeping too: old connect
    attempts, ended browser sessions and sign-ins (`bot.services.web_sessions`) and old inbound
    deliveries (a platform's redeliveries, `bot.services.inbound`) forgotten."""
    async with ctx.sessions() as session:
        warned = await connections.warn_expiring(session, now=ctx.now(), queued_at=ctx.sending_now())
        await connections.purge_attempts(session, now=ctx.now())
        await web_sessions.purge(session, now=ctx.now())
        await inbound.prune(session, now=ctx.sending_now())
        await session.commit()
    await drain(ctx)
    return f"{len(warned)} warnings"


async def dashboard(ctx: Context) -> str:
    """The dashboard's weekly aggregates brought up to date for every workspace (`analytics.refresh`), so
    that no admin's first look after a week settles, or after an upgrade, waits for them to be built."""

    async def refreshed(session: AsyncSession, workspace: Workspace) -> int:
        await analytics.refresh(session, workspace_id=workspace.id, now=ctx.now())
        return 1

    return f"{await _per_workspace(ctx, refreshed)} workspaces"


async def retention_sweep(ctx: Context) -> str:
    """RELAIS_RETENTION_DAYS: old clicks folded into weekly rows, old finished messages and visit tallies
    deleted, visitors' keys and salts of past days forgotten (`bot.services.retention`), in short
    transactions. Then the files of erased members their platform failed to delete, tried again
    (`bot.services.erasure.delete_left_files`). First of all, the workspaces uninstalled for longer than
    `workspace_erasure.UNINSTALLED_KEPT` are removed (`bot.services.workspace_erasure`)."""
    removed = await workspace_erasure.remove_uninstalled(ctx.sessions, now=ctx.now(), tokens=ctx.tokens)
    swept = await retention.sweep(ctx.sessions, now=ctx.now(), days=ctx.retention_days)
    deleters = {name: n for name, n in ctx.notifiers.items() if isinstance(n, erasure.DeletesFiles)}
    left = await erasure.delete_left_files(ctx.sessions, deleters)
    summary = f"{removed.summary()}; {swept.summary()}"
    return summary + (f", {left} files of erased members deleted" if left else "")


async def send(ctx: Context) -> str:
    """API shares due again (429, 5xx) or interrupted, then every chat message waiting."""
    views = await ctx.poster.run_due() if ctx.poster is not None else []
    sent = await drain(ctx)
    return f"{len(views)} API shares, {sent} messages"


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Context], Awaitable[object]]  # returns a summary for the log and `relais jobs run`
    every_seconds: int
    schedule: str


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("publish", publish, 60, "every minute: scheduled posts whose time has come, expiry"),
        Job("nudges", nudges, 300, "every 5 minutes: the weekly reminders once their moment has come"),
        Job(
            "leaderboard",
            leaderboard,
            300,
            "every 5 minutes: the weekly leaderboard once its moment has come",
        ),
        Job(
            "connection-warnings",
            connection_warnings,
            3600,
            "every hour: LinkedIn connections ending soon, old records forgotten",
        ),
        Job("outbox", send, 60, "every minute: API share retries and every waiting chat message"),
        Job("dashboard", dashboard, 3600, "every hour: the dashboard's weekly aggregates brought up to date"),
        Job(
            "retention",
            retention_sweep,
            3600,
            "every hour: visitors' keys and salts of past days; clicks and finished messages older than "
            "RELAIS_RETENTION_DAYS; workspaces uninstalled for over "
            f"{workspace_erasure.UNINSTALLED_KEPT.days} days",
        ),
    )
}


async def run_job(ctx: Context, name: str) -> object:
    """Run one job now and record the run (`relais jobs list`); errors are recorded, then raised."""
    job = JOBS[name]
    await _record(ctx.sessions, name, last_started_at=ctx.sending_now())
    try:
        summary = await job.run(ctx)
    except Exception as exc:
        await _record(ctx.sessions, name, last_finished_at=ctx.sending_now(), last_error=type(exc).__name__)
        raise
    await _record(ctx.sessions, name, last_finished_at=ctx.sending_now(), last_error=None)
    logger.info("job %s: %s", name, summary)
    return summary


async def record_next_run(sessions: Sessions, name: str, at: datetime | None) -> None:
    await _record(sessions, name, next_run_at=at)


async def _record(sessions: Sessions, name: str, **values: object) -> None:
    async with sessions() as session:
        await session.execute(insert_ignoring_conflicts(session, ClockJob.__table__, [{"name": name}]))
        row = await session.get_one(ClockJob, name)
        for key, value in values.items():
            setattr(row, key, value)
        await session.commit()


async def clock_jobs(sessions: Sessions) -> dict[str, ClockJob]:
    async with sessions() as session:
        return {row.name: row for row in (await session.scalars(select(ClockJob))).all()}
