"""`/relais …`, whatever the chat platform: who may run which subcommand, reading its words, doing it,
and the answer as a neutral message. A platform hands over the typed text and renders the answer."""

from __future__ import annotations

import logging
from typing import Final

from bot.core import Relais
from bot.flows import acting, erasure, suggestions
from bot.flows.acting import Who
from bot.flows.caller import ChatSurface, Refusal
from bot.flows.commands import members, posts, schedule
from bot.flows.invocation import Invocation, Subcommand
from bot.flows.mydata import mydata_command
from bot.messages import Message, commands, text
from bot.services import inputs
from bot.services.inputs import InputError
from bot.services.members import Directory
from bot.services.posts import PostError

logger = logging.getLogger(__name__)

# The surface a command needs: a chat platform's.
CommandSurface = ChatSurface

ADMIN_COMMANDS: Final = frozenset({"queue", "list", "cancel", "stats", "channel", "schedule", "dashboard"})
# The whole text of one command; a chat client's own box holds far less, so only a forged request comes
# near.
MAX_COMMAND_TEXT: Final = 12_000

SUBCOMMANDS: Final[dict[str, Subcommand]] = {
    "help": members.help_command,
    "aide": members.help_command,
    "queue": posts.queue,
    "list": posts.post_list,
    "cancel": posts.cancel,
    "channel": posts.channel,
    "pause": members.pause,
    "resume": members.resume,
    "optout": members.optout,
    "lang": members.lang,
    "me": members.me,
    "stats": posts.stats,
    "dashboard": posts.dashboard,
    "suggest": suggestions.suggest,
    "schedule": schedule.schedule,
    "connect": members.connect,
    "disconnect": members.disconnect,
    "forget-me": erasure.forget_me,
    "oubliez-moi": erasure.forget_me,
    "mydata": mydata_command,
    "mesdonnees": mydata_command,
    "mes-donnees": mydata_command,
    "mesdonnées": mydata_command,
    "mes-données": mydata_command,
}


async def run_command(
    core: Relais,
    surface: CommandSurface,
    directory: Directory,
    who: Who,
    typed: str,
    *,
    channel: str | None = None,
) -> Message | None:
    """Run `/relais <typed>` for `who` (in `channel`, None in a private chat) and say what they see; None
    when the answer was a form the platform opened. Never raises: a refusal is said in the member's
    language, a failure is logged and answered "something went wrong".

    No transaction is open here: the caller is identified in sessions of their own (the profile looked
    up outside any), and each subcommand opens its own short one after its network work
    (`Invocation.applying`)."""
    words = typed.split()
    name = words[0].lower() if words else "help"
    lang = "en"
    try:
        caller = await acting.caller(core, directory, who, channel=channel)
        lang = caller.lang
        inputs.check_text(typed, limit=MAX_COMMAND_TEXT)
        reply = await dispatch(Invocation(core, caller, tuple(words[1:]), surface), name)
    except (Refusal, PostError, InputError) as refusal:
        key = refusal.key if isinstance(refusal, Refusal) else refusal.code
        return commands.say(lang, key, **_echoed(surface, refusal.params))
    except Exception:
        logger.exception("/relais %s failed", name)
        return commands.say(lang, "something_went_wrong")
    return reply


async def dispatch(invocation: Invocation, name: str) -> Message | None:
    """The subcommand `name`, behind the admin gate; an unknown one gets the help, led by why."""
    caller = invocation.caller
    handler = SUBCOMMANDS.get(name)
    if handler is None:
        lead = text(caller.lang, "unknown_command", command=commands.echoed(invocation.surface.typed(name)))
        return commands.help_message(caller.lang, admin=caller.admin, lead=lead)
    if name in ADMIN_COMMANDS and not caller.admin:
        return commands.say(caller.lang, "not_admin", command=name)
    return await handler(invocation)


def _echoed(surface: CommandSurface, params: dict[str, object]) -> dict[str, str | int | float]:
    """A refusal's parameters as the caller sees them: typed text shown as typed (never as a mention or
    a link) and shortened."""
    shown: dict[str, str | int | float] = {}
    for name, value in params.items():
        if isinstance(value, str):
            shown[name] = commands.echoed(surface.typed(value))
        elif isinstance(value, int | float):
            shown[name] = value
        else:
            shown[name] = str(value)
    return shown
