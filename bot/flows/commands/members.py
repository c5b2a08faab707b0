"""The subcommands every member may run: help, their reminders (`pause`, `resume`, `optout`), their
language, their figures, and their connected networks."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.flows import acting, connections, preferences
from bot.flows.caller import Caller, ChatSurface, Refusal
from bot.i18n import parse_language
from bot.messages import Message, commands, text
from bot.messages import connections as connection_messages
from bot.services import inputs, scores


async def help_command(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    """`help`: what the caller may do; `help points`: how points are counted."""
    if args and args[0].lower() == "points":
        return commands.paragraph(text(caller.lang, "help_points"))
    return commands.help_message(caller.lang, admin=caller.admin)


async def pause(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    weeks = inputs.parse_whole(args[0], low=1, high=preferences.MAX_PAUSE_WEEKS) if args else 1
    if weeks is None:
        raise Refusal("bad_weeks")
    until = preferences.pause(core, caller.member, weeks)
    return commands.say(caller.lang, "paused_until", date=acting.local(until, caller.timezone)[:10])


async def resume(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    preferences.resume(caller.member)
    return commands.say(caller.lang, "resumed")


async def optout(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    preferences.opt_out(caller.member)
    return commands.say(caller.lang, "opted_out")


async def lang(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    language = parse_language(args[0]) if args else None
    if language is None:
        raise Refusal("lang_unknown")
    preferences.set_language(core, caller.member, acting.who_of(caller), language)
    return commands.say(language, "lang_set")


async def me(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    mine = await scores.member_stats(
        session, workspace_id=caller.workspace.id, member_id=caller.member.id, now=core.clock.now()
    )
    return commands.me(caller.lang, mine)


async def connect(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    """`connect <network>`: a personal link; `connect` alone: where each network stands, with buttons."""
    await session.commit()  # what identifying the caller wrote; the answers below use their own sessions
    if not args:
        found = await connections.member_connections(core, caller.member.id)
        return connection_messages.connections(found, caller.lang)
    network = connections.network_named(args[0])
    if network is None:
        raise Refusal("unknown_network", command="connect")
    return await connections.connect(core, caller.member, network, caller.lang)


async def disconnect(
    core: Relais, session: AsyncSession, caller: Caller, surface: ChatSurface, args: list[str]
) -> Message:
    network = connections.network_named(args[0]) if args else None
    if network is None:
        raise Refusal("unknown_network", command="disconnect")
    await session.commit()  # what identifying the caller wrote; disconnecting uses its own sessions
    return await connections.disconnect(core, caller.member, network, caller.lang)
