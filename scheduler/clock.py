"""`relais clock`: the one process that schedules (Procfile `clock`). APScheduler 3's AsyncIOScheduler
runs the jobs of `scheduler.jobs.JOBS` (publish, nudges, leaderboard, connection-warnings, outbox), each
at its interval and once at start (to catch up after a restart).

Every clock also drains the outbox continuously (`_keep_draining`), whether it leads or not: a second
clock is a second drainer. Only the leader runs jobs (`scheduler.leader`): a second clock waits and
takes over within `leader.TAKEOVER_SECONDS` of the first one's death; a leader whose lock's connection
drops cancels its running jobs and stops leading, before any other clock can start, until it holds the
lock again. A cancelled job leaves nothing half done: its transactions roll back (a round's claim with
its messages); a chat message cancelled during its send stays `sending` until the outbox's stale
recovery sends it again (unless the platform shows it already has it: `bot.notifier.FindsDelivered`),
and an API share so cut becomes `unknown`, exactly as after a crash (or a `kill -9`:
tests/faults/test_clock_faults.py).
Even two leaders would send nothing twice: weekly rounds claim their period, posts are claimed by
conditional updates, outbox rows by their state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db, platforms
from bot.clock import SystemClock
from bot.config import Settings
from bot.services import delivery, outbox, workspace_erasure
from bot.services.posting import Poster
from bot.services.preview import PreviewFetcher
from scheduler import jobs
from scheduler.leader import RETRY_SECONDS, lead

logger = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 25.0

Job = Callable[..., Awaitable[Any]]


class _InFlight:
    """Tracks running jobs, so that a stop lets them finish: APScheduler's asyncio executor cancels
    running coroutine jobs on shutdown, which could leave a message claimed but never recorded."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def wrap(self, job: Job) -> Job:
        @functools.wraps(job)
        async def run(*args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            assert task is not None
            self.tasks.add(task)
            try:
                return await job(*args, **kwargs)
            finally:
                self.tasks.discard(task)

        return run

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()


def build_context(
    settings: Settings, *, now: Callable[[], datetime] | None = None
) -> tuple[jobs.Context, AsyncEngine, Callable[[], Awaitable[None]]]:
    """What the jobs need, from the settings (acting at `now`, the system clock by default; the outbox
    always keeps real time), its engine, and how to close it all. Each workspace's messages go out
    through its chat platform's notifier (`bot.platforms`), for the platforms the settings configure
    (only theirs are read); the others' messages wait in the outbox. Raises `ConfigError` if a platform
    is configured incompletely."""
    chosen = platforms.configured(settings)  # first: an incomplete platform opens nothing
    engine = db.create_engine(settings.database_url)
    sessions = db.session_factory(engine)
    system = SystemClock()
    real = system.now
    http = platforms.new_http_client()
    fetcher = PreviewFetcher()  # a LinkedIn card's thumbnail, when a retried share posts it
    clients = platforms.social_clients(settings, http)
    cipher = settings.fernet if settings.encryption_key is not None else None
    poster = Poster(
        sessions,
        clients=clients,
        cipher=cipher,
        base_url=settings.base_url,
        now=real,
        images=fetcher.fetch_image,
    )
    ctx = jobs.Context(
        sessions=sessions,
        notifiers=platforms.notifiers(chosen, settings, sessions, system),
        now=now or real,
        send_now=real,
        poster=poster,
        fallback_channel=settings.relais_channel,
        admins=settings.relais_admins,
        retention_days=settings.relais_retention_days,
        tokens=workspace_erasure.Tokens(cipher, clients),
    )

    async def close() -> None:
        await fetcher.aclose()
        await http.aclose()
        await engine.dispose()

    return ctx, engine, close


async def _run_logged(ctx: jobs.Context, name: str) -> None:
    try:
        await jobs.run_job(ctx, name)
    except Exception:
        logger.exception("job %s failed; it runs again at its next time", name)


async def run_clock(settings: Settings, *, retry: float | None = None) -> None:
    """Run until SIGTERM/SIGINT, then let running jobs finish. Raises `ConfigError` if a chat platform is
    configured incompletely or a social network has no `ENCRYPTION_KEY`."""
    settings.require_social()
    ctx, engine, close = build_context(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    drainer = asyncio.create_task(_keep_draining(ctx, stop))
    try:
        await lead(
            engine, stop, lambda ended: _lead(ctx, ended), retry=RETRY_SECONDS if retry is None else retry
        )
    finally:
        stop.set()
        await asyncio.wait({drainer}, timeout=SHUTDOWN_SECONDS)  # the message being sent is recorded
        drainer.cancel()
        await close()
        logger.info("Relais clock stopped")


async def _keep_draining(ctx: jobs.Context, stop: asyncio.Event) -> None:
    """Every clock, its leader and its standbys alike, drains the outbox until `stop`, as soon as messages
    are due (`outbox.keep_draining`), not only when a job runs."""
    await outbox.keep_draining(
        lambda: delivery.deliver(
            ctx.sessions, notifiers=ctx.notifiers, now=ctx.sending_now, admins=ctx.admins, stop=stop
        ),
        ctx.sessions,
        platforms=outbox.served_platforms(ctx.notifiers),
        now=ctx.sending_now,
        stop=stop,
    )


async def _lead(ctx: jobs.Context, ended: asyncio.Event) -> None:
    """Run the jobs until `ended`. On a stop, no job starts any more, and those running are let finish
    (their claims keep anything from being done twice). Cancelled (the leadership lost, see
    `scheduler.leader.lead`), it cancels the running jobs too and returns as soon as they have ended:
    another clock may lead a few seconds later."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    in_flight = _InFlight()
    for job in jobs.JOBS.values():
        scheduler.add_job(
            in_flight.wrap(_run_logged),
            "interval",
            seconds=job.every_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=job.every_seconds,
            args=[ctx, job.name],
            id=job.name,
        )

    def remember_next_run(event: JobExecutionEvent) -> None:
        scheduled = scheduler.get_job(event.job_id)
        if scheduled is not None:
            task = asyncio.ensure_future(
                jobs.record_next_run(ctx.sessions, event.job_id, scheduled.next_run_time)
            )
            in_flight.tasks.add(task)
            task.add_done_callback(in_flight.tasks.discard)

    scheduler.add_listener(remember_next_run, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    scheduler.start()
    logger.info("Relais clock started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        await ended.wait()
        scheduler.pause()
        await in_flight.wait(SHUTDOWN_SECONDS)
        scheduler.shutdown(wait=False)
        # The last jobs' "next run" records were started as they finished: let them end too.
        await in_flight.wait(SHUTDOWN_SECONDS)
    except asyncio.CancelledError:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        in_flight.cancel()
        await in_flight.wait(SHUTDOWN_SECONDS)  # `lead` gives this half a heartbeat
        raise
