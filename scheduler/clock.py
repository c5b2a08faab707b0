"""`relais clock`: the one process that schedules (Procfile `clock`). APScheduler 3's AsyncIOScheduler
runs the jobs; each job is a thin call into `scheduler.jobs`.

Jobs now, every minute and once at start (to catch up after a restart): `publish` (scheduled posts
whose time has come, expiry), `outbox` (chat messages still waiting) and `social` (API posts due again
or interrupted, LinkedIn connections about to end).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import db
from bot.clock import SystemClock
from bot.config import Settings
from bot.services.posting import Poster
from handlers.slack.app import build_web_client
from handlers.slack.notifier import SlackNotifier
from handlers.social import build_social_clients, new_http_client
from scheduler import jobs

logger = logging.getLogger(__name__)

JOB_SECONDS = 60
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


async def run_clock(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then let running jobs finish. Raises `ConfigError` if Slack is
    configured incompletely."""
    settings.require_slack()
    settings.require_social()
    engine = db.create_engine(settings.database_url)
    sessions = db.session_factory(engine)
    clock = SystemClock()
    notifier = SlackNotifier(build_web_client(settings))
    http = new_http_client()
    poster = Poster(
        sessions,
        clients=build_social_clients(settings, http),
        cipher=settings.fernet if settings.encryption_key is not None else None,
        base_url=settings.base_url,
        now=clock.now,
    )
    scheduler = AsyncIOScheduler(timezone=UTC)
    in_flight = _InFlight()
    every_minute = {
        "trigger": "interval",
        "seconds": JOB_SECONDS,
        "next_run_time": datetime.now(UTC),
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": JOB_SECONDS,
        "args": [sessions],
        "kwargs": {"notifier": notifier, "now": clock.now},
    }
    scheduler.add_job(in_flight.wrap(jobs.publish), id="publish", **every_minute)
    scheduler.add_job(in_flight.wrap(jobs.drain), id="outbox", **every_minute)
    scheduler.add_job(
        in_flight.wrap(jobs.social),
        id="social",
        **{**every_minute, "kwargs": {"notifier": notifier, "now": clock.now, "poster": poster}},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler.start()
    logger.info("Relais clock started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        await stop.wait()
        scheduler.pause()
        await in_flight.wait(SHUTDOWN_SECONDS)
    finally:
        scheduler.shutdown(wait=False)
        await http.aclose()
        await engine.dispose()
        logger.info("Relais clock stopped")
