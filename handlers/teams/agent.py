"""What Relais does with each Teams activity once it is let in: translate it into calls to the core.

The SDK calls `on_turn` inside the HTTP request (the Bot Framework waits for its answer), so a turn does
little and leaves slow work to the outbox: what a message, a click or an install enqueued is sent right
after the turn (`after`, the platform's sender). Replies sent in the turn keep the tenant's shared pace
(`handlers.teams.replies.ReplyPace`, kept in the turn's state).

An invoke is always answered (HTTP 200, a documented invoke body): one whose turn fails (a reply Teams
kept refusing, the database out of reach) gets the error type with the core's "something went wrong",
in the language of the person's Teams; never the SDK's 501 for an invoke left unanswered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.core import TurnContext

from bot.core import Relais
from bot.i18n import language_for
from bot.messages.commands import say
from bot.services.outbox import WorkspacePace
from handlers.teams import actions, commands, membership
from handlers.teams.notifier import TEAMS_TENANT_RATE
from handlers.teams.redelivery import Redeliveries
from handlers.teams.render import render
from handlers.teams.replies import REPLY_PACE, ReplyPace

logger = logging.getLogger(__name__)

ADAPTIVE_CARD_ACTION: Final = "adaptiveCard/action"


class TeamsAgent:
    """The SDK's `Agent`: routes an activity by its type. `after` runs once a message or a click was
    handled, given the activity's tenant (the outbox's sending of that workspace's messages, started in
    the background)."""

    def __init__(
        self,
        core: Relais,
        *,
        after: Callable[[str | None], None] | None = None,
        redeliveries: Redeliveries | None = None,
    ) -> None:
        self._core = core
        self._after = after or (lambda tenant: None)
        self._redeliveries = redeliveries or Redeliveries(core.sessions, core.clock)
        self._pace = ReplyPace(core.sessions, WorkspacePace(core.sessions, TEAMS_TENANT_RATE))

    async def on_turn(self, context: TurnContext) -> None:
        context.turn_state[REPLY_PACE] = self._pace
        kind = context.activity.type
        if kind == ActivityTypes.installation_update:
            if await membership.on_installation_update(self._core, context):
                self._after(membership.tenant_of(context.activity))  # the welcome it queued
        elif kind == ActivityTypes.conversation_update:
            if await membership.on_conversation_update(self._core, context):
                self._after(membership.tenant_of(context.activity))
        elif kind == ActivityTypes.message:
            await self._on_message(context)
        elif kind == ActivityTypes.invoke:
            await self._on_invoke(context)

    async def _on_message(self, context: TurnContext) -> None:
        if await self._redeliveries.run_once(context.activity, lambda: self._message(context)):
            self._after(membership.tenant_of(context.activity))
        # else run once already, in this process or another: no second effect

    async def _message(self, context: TurnContext) -> None:
        if context.activity.value is not None:
            await actions.on_submit(self._core, context)
        else:
            await commands.on_command(self._core, context)

    async def _on_invoke(self, context: TurnContext) -> None:
        activity = context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            await _answer_invoke(context, _unsupported(activity))
            return
        try:
            body = await self._redeliveries.answer(activity, lambda: actions.on_invoke(self._core, context))
        except Exception:
            # Its claim was released (`Redeliveries`): a redelivery runs it again.
            logger.exception("a Teams invoke failed: answered that something went wrong")
            body = _failed(activity)
        await _answer_invoke(context, body)
        self._after(membership.tenant_of(activity))


def _unsupported(activity: Activity) -> dict[str, Any]:
    return actions.refusal_body(say(language_for(locale=activity.locale), "unsupported_action"))


def _failed(activity: Activity) -> dict[str, Any]:
    """The documented error type for a failure on Relais's side (500), with the core's words for it."""
    summary, _ = render(say(language_for(locale=activity.locale), "something_went_wrong"))
    return {
        "statusCode": 500,
        "type": actions.ERROR,
        "value": {"code": "InternalServerError", "message": summary},
    }


async def _answer_invoke(context: TurnContext, body: dict[str, Any]) -> None:
    """An invoke is answered in the HTTP response (200 and `body`); without an answer the SDK says 501."""
    await context.send_activity(
        Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body))
    )
