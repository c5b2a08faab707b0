"""Messages to Relais in Teams: a command, typed in a 1:1 chat or after @mentioning Relais in a channel,
run by the core (`bot.flows.commands.run_command`) with Teams' surface, for the sender as the activity
names them; the core's answer is rendered as an Adaptive Card and sent in the turn, to the sender alone
(`handlers.teams.replies`: in reply in their 1:1 chat, or in that chat when they wrote in a channel).

Teams may deliver the same activity again (no answer in time, a retry), to any web process: an activity
id some process claimed already (`Redeliveries`, through the database) has no second effect. A message
carrying `value` is an `Action.Submit` (the fallback of a card's buttons), not a command:
`handlers.teams.actions`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext

from bot.core import Relais
from bot.flows.commands import run_command
from bot.messages import Message
from bot.messages.model import mentions
from handlers.teams.identity import in_channel, sender_of
from handlers.teams.render import render
from handlers.teams.replies import tell_privately
from handlers.teams.surface import TeamsSurface, channel_names, typed_command

logger = logging.getLogger(__name__)


async def on_command(core: Relais, context: TurnContext) -> None:
    """A message typed to Relais: the command it holds, run for its sender, answered in reply. In a
    channel, only a message that @mentions Relais is for it."""
    activity = context.activity
    if in_channel(activity) and not _mentions_bot(activity):
        return
    sender = await sender_of(core, activity)
    if sender is None:
        logger.info("Teams message from someone outside the tenant's directory: not answered")
        return
    typed = typed_command(activity, channel=sender.channel)
    reply = await run_command(
        core,
        TeamsSurface(core, context, typed),
        sender.directory,
        sender.who,
        typed.text,
        channel=sender.channel,
    )
    if reply is not None:  # None: the answer was a form, sent already
        names = await channel_names(core, activity, mentions(reply, "channel"), typed.names)
        await reply_with(context, reply, names=names)


async def reply_with(
    context: TurnContext, message: Message, *, names: Mapping[str, str] | None = None
) -> None:
    """The core's message as a card, to the sender alone (`tell_privately`), without `text`: a client
    would show two messages, and the card could no longer be updated."""
    summary, card = render(message, names=names)
    await tell_privately(context, card, summary=summary)


def _mentions_bot(activity: Activity) -> bool:
    try:
        return activity.is_recipient_mentioned()
    except (TypeError, ValueError):
        return False
