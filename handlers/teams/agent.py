"""What Relais does with each Teams activity once it is let in: translate it into calls to the core.

The SDK calls `on_turn` inside the HTTP request (the Bot Framework waits for its answer), so a turn does
little and leaves slow work to the outbox.
"""

from __future__ import annotations

from typing import Any, Final

from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.core import TurnContext

from bot.core import Relais
from handlers.teams import membership

# The documented invoke answer for "Relais does not do that" (Teams shows it as an error).
ERROR_RESPONSE_TYPE: Final = "application/vnd.microsoft.error"


class TeamsAgent:
    """The SDK's `Agent`: routes an activity by its type."""

    def __init__(self, core: Relais) -> None:
        self._core = core

    async def on_turn(self, context: TurnContext) -> None:
        kind = context.activity.type
        if kind == ActivityTypes.installation_update:
            await membership.on_installation_update(self._core, context)
        elif kind == ActivityTypes.conversation_update:
            await membership.on_conversation_update(self._core, context)
        elif kind == ActivityTypes.invoke:
            await _answer_invoke(context, _unsupported(context.activity))


def _unsupported(activity: Activity) -> dict[str, Any]:
    return {
        "statusCode": 400,
        "type": ERROR_RESPONSE_TYPE,
        "value": {"code": "BadRequest", "message": f"unsupported invoke: {activity.name or '-'}"},
    }


async def _answer_invoke(context: TurnContext, body: dict[str, Any]) -> None:
    """An invoke is answered in the HTTP response (200 and `body`); without an answer the SDK says 501."""
    await context.send_activity(
        Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body))
    )
