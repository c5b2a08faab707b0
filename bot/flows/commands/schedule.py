"""`/relais schedule`: when the weekly reminders and the leaderboard go out (admins)."""

from __future__ import annotations

from bot.flows.caller import Refusal
from bot.flows.commands.posts import default_channel, resolve_channel
from bot.flows.invocation import Invocation
from bot.messages import Message, commands
from bot.services import schedules, weekly


async def schedule(run: Invocation) -> Message:
    """`schedule`: show; `schedule nudges <day> <HH:MM>`; `schedule leaderboard <day> <HH:MM> [#channel]`
    (the channel looked up on the platform before the change is saved). Setting the leaderboard's also
    makes the admin's time zone the workspace's (its clock)."""
    caller, lang, args = run.caller, run.lang, run.args
    if not args:
        workspace = caller.workspace
        board = schedules.schedule_of(workspace, schedules.LEADERBOARD)
        return commands.schedules_shown(
            lang,
            nudges=schedules.schedule_of(workspace, schedules.NUDGES),
            board=board,
            timezone=workspace.timezone,
            channel=board.channel or default_channel(run.core, caller),
        )
    job = args[0].lower()
    if job not in schedules.SCHEDULED_JOBS or len(args) < 3:
        raise Refusal("schedule_usage")
    try:
        day, at = schedules.parse_day(args[1]), schedules.parse_time(args[2])
        timezone = caller.timezone
        schedules.zone(timezone)
    except schedules.ScheduleError as error:
        raise Refusal(f"schedule_{error.code}") from None
    channel = None
    if job == schedules.NUDGES:
        if day >= 5:
            raise Refusal("schedule_weekend")
        if not weekly.WORK_START <= at < weekly.WORK_END:
            raise Refusal("schedule_outside_hours")
    elif len(args) > 3:
        channel = await resolve_channel(run.surface, args[3])
    chosen = schedules.Schedule(job, day, at, channel)
    async with run.applying() as (_, admin):
        if job == schedules.LEADERBOARD:
            admin.workspace.timezone = timezone  # the leaderboard's clock is the workspace's
        schedules.set_schedule(admin.workspace, chosen, lang=lang)
    return commands.schedule_set(lang, chosen)
