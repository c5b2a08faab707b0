"""The subcommands every member may run: help, their reminders (`pause`, `resume`, `optout`), their
language, their figures, and their connected networks."""

from __future__ import annotations

from bot.flows import acting, connections, preferences
from bot.flows.caller import Refusal
from bot.flows.invocation import Invocation
from bot.i18n import parse_language
from bot.messages import Message, commands, text
from bot.messages import connections as connection_messages
from bot.services import inputs, scores


async def help_command(run: Invocation) -> Message:
    """`help`: what the caller may do; `help points`: how points are counted."""
    if run.args and run.args[0].lower() == "points":
        return commands.paragraph(text(run.lang, "help_points"))
    return commands.help_message(run.lang, admin=run.caller.admin)


async def pause(run: Invocation) -> Message:
    weeks = inputs.parse_whole(run.args[0], low=1, high=preferences.MAX_PAUSE_WEEKS) if run.args else 1
    if weeks is None:
        raise Refusal("bad_weeks")
    async with run.applying() as (_, caller):
        until = preferences.pause(run.core, caller.member, weeks)
    return commands.say(run.lang, "paused_until", date=acting.local(until, run.caller.timezone)[:10])


async def resume(run: Invocation) -> Message:
    async with run.applying() as (_, caller):
        preferences.resume(caller.member)
    return commands.say(run.lang, "resumed")


async def optout(run: Invocation) -> Message:
    async with run.applying() as (_, caller):
        preferences.opt_out(caller.member)
    return commands.say(run.lang, "opted_out")


async def lang(run: Invocation) -> Message:
    language = parse_language(run.args[0]) if run.args else None
    if language is None:
        raise Refusal("lang_unknown")
    async with run.applying() as (_, caller):
        preferences.set_language(run.core, caller.member, acting.who_of(caller), language)
    return commands.say(language, "lang_set")


async def me(run: Invocation) -> Message:
    caller = run.caller
    async with run.core.sessions() as session:
        mine = await scores.member_stats(
            session, workspace_id=caller.workspace.id, member_id=caller.member.id, now=run.core.clock.now()
        )
        await session.commit()  # the points snapshot `member_stats` built or moved on, if it did
    return commands.me(caller.lang, mine)


async def connect(run: Invocation) -> Message:
    """`connect <network>`: a personal link; `connect` alone: where each network stands, with buttons."""
    caller = run.caller
    if not run.args:
        found = await connections.member_connections(run.core, caller.member.id)
        return connection_messages.connections(found, caller.lang)
    network = connections.network_named(run.args[0])
    if network is None:
        raise Refusal("unknown_network", command="connect")
    return await connections.connect(run.core, caller.member, network, caller.lang)


async def disconnect(run: Invocation) -> Message:
    network = connections.network_named(run.args[0]) if run.args else None
    if network is None:
        raise Refusal("unknown_network", command="disconnect")
    return await connections.disconnect(run.core, run.caller.member, network, run.lang)
