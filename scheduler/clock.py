"""`relais clock`: the one process that schedules (Procfile `clock`). APScheduler 3's AsyncIOScheduler
runs the jobs; each job is a thin call into `scheduler.jobs`.

Jobs now: `publish` (every minute: scheduled posts whose time has come, expiry) and `outbox` (every
minute: anything still waiting to be sent). Both run once at start, to catch up after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import db
from bot.clock import SystemClock
from bot.config import Settings
from handlers.slack.app import build_web_client
from handlers.slack.notifier import SlackNotifier
from scheduler import jobs

logger = logging.getLogger(__name__)

JOB_SECONDS = 60


async def run_clock(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT. Raises `ConfigError` if Slack is configured incompletely."""
    settings.require_slack()
    engine = db.create_engine(settings.database_url)
    sessions = db.session_factory(engine)
    clock = SystemClock()
    notifier = SlackNotifier(build_web_client(settings))
    scheduler = AsyncIOScheduler(timezone=UTC)
    common = {
        "trigger": "interval",
        "seconds": JOB_SECONDS,
        "next_run_time": datetime.now(UTC),
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": JOB_SECONDS,
    }
    scheduler.add_job(
        jobs.publish, id="publish", args=[sessions], kwargs={"notifier": notifier, "now": clock.now}, **common
    )
    scheduler.add_job(
        jobs.drain, id="outbox", args=[sessions], kwargs={"notifier": notifier, "now": clock.now}, **common
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler.start()
    logger.info("Relais clock started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        await engine.dispose()
        logger.info("Relais clock stopped")
