"""Events: the App Home tab opened, and the preference buttons on it."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows import preferences
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from handlers.slack.home import publish_home
from handlers.slack.identity import acting_team, team_and_user, who


async def handle_app_home_opened(
    body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Publish the member's Home. Slack may deliver the event again (retries): publishing twice is fine.
    The workspace is the event's (`acting_team`, which installs check against the installation), not
    Bolt's `context.team_id`: an Enterprise Grid organisation's installation names no team."""
    team, user = acting_team(body), event.get("user")
    if event.get("tab") != "home" or team is None or not isinstance(user, str) or not user:
        return
    await publish_home(relais(context), client, team_id=team, user_id=user)


async def handle_home_preference(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Reminders on/off and language, from the Home tab; the tab is then published again."""
    await ack()
    deps = relais(context)
    team_id, user_id = team_and_user(body)
    await preferences.home_preference(
        deps, SlackDirectory(client), who(team_id, user_id), str(action["action_id"])
    )
    await publish_home(deps, client, team_id=team_id, user_id=user_id)
