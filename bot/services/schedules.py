"""The weekly schedules of a workspace (nudges, leaderboard) and the periods the clock claims.

Schedules live in `Workspace.settings` (`{"nudges": {"day": 1, "time": "10:00"}, "leaderboard": {...,
"channel": "C…"}}`). Nudges go out at that weekday and time in each member's own time zone, the
leaderboard at that weekday and time in the workspace's time zone. A period is an ISO week, written
`2026-W48`: a job claims (job, period) once per workspace (`claim_period`), so nothing runs twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignoring_conflicts
from bot.services.members import known_zone
from models import JobRun, JobRunState, Workspace

NUDGES: Final = "nudges"
LEADERBOARD: Final = "leaderboard"
SCHEDULED_JOBS: Final = (NUDGES, LEADERBOARD)

# The days as typed (English, French, short or whole); a schedule shows its day in the reader's language
# (`bot.messages.commands.day_name`).
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS: Final = {
    **{day: i for i, day in enumerate(DAYS)},
    **{
        name: i
        for i, names in enumerate(
            (
                ("monday", "lundi", "lun"),
                ("tuesday", "mardi", "mar"),
                ("wednesday", "mercredi", "mer"),
                ("thursday", "jeudi", "jeu"),
                ("friday", "vendredi", "ven"),
                ("saturday", "samedi", "sam"),
                ("sunday", "dimanche", "dim"),
            )
        )
        for name in names
    },
}
DEFAULTS: Final = {NUDGES: (1, time(10, 0)), LEADERBOARD: (4, time(16, 0))}


class ScheduleError(ValueError):
    """`code` names what was wrong (`bad_day`, `bad_time`, `bad_timezone`) for the caller's message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Schedule:
    job: str
    day: int  # 0 = Monday
    at: time
    channel: str | None = None

    @property
    def time_text(self) -> str:
        return self.at.strftime("%H:%M")


def parse_day(text: str) -> int:
    found = _DAY_WORDS.get(text.strip().lower().rstrip("."))
    if found is None:
        raise ScheduleError("bad_day")
    return found


def parse_time(text: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3])(?::|h)([0-5]\d)?", text.strip().lower())
    if match is None:
        raise ScheduleError("bad_time")
    return time(int(match.group(1)), int(match.group(2) or 0))


def zone(name: str | None) -> ZoneInfo:
    """A time zone by name (no name: UTC); `bad_timezone` if the name is unknown."""
    found = known_zone(name)
    if found is None:
        raise ScheduleError("bad_timezone")
    return found


def schedule_of(workspace: Workspace, job: str) -> Schedule:
    stored = (workspace.settings or {}).get(job) or {}
    day, at = DEFAULTS[job]
    try:
        day = int(stored.get("day", day))
        at = parse_time(str(stored.get("time", at.strftime("%H:%M"))))
    except (ScheduleError, ValueError):
        day, at = DEFAULTS[job]
    return Schedule(job, day, at, stored.get("channel"))


def set_schedule(workspace: Workspace, schedule: Schedule, *, lang: str | None = None) -> None:
    """Store a schedule; `lang` is the language of what it posts in a channel (the admin's)."""
    settings = dict(workspace.settings or {})
    entry: dict[str, object] = {"day": schedule.day, "time": schedule.time_text}
    if schedule.channel:
        entry["channel"] = schedule.channel
    if lang:
        entry["lang"] = lang
    settings[schedule.job] = entry
    workspace.settings = settings  # a new dict, so the JSON column is seen as changed


def week_key(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def slot_in_week(schedule: Schedule, local_now: datetime) -> datetime:
    """This week's (Monday-based, in `local_now`'s time zone) moment of the schedule."""
    monday = (local_now - timedelta(days=local_now.weekday())).date()
    day = monday + timedelta(days=schedule.day)
    return datetime.combine(day, schedule.at, tzinfo=local_now.tzinfo)


async def claim_period(
    session: AsyncSession, *, workspace_id: int, job: str, period: str, now: datetime
) -> bool:
    """Claim (job, period) for the workspace: True for the one caller that gets it. Commit with the work
    the claim covers, so that a crash leaves neither."""
    row = {
        "workspace_id": workspace_id,
        "job": job,
        "period_key": period,
        "state": JobRunState.DONE,
        "started_at": now,
        "finished_at": now,
    }
    claimed = await session.scalar(
        insert_ignoring_conflicts(session, JobRun.__table__, [row]).returning(JobRun.id)
    )
    return claimed is not None
