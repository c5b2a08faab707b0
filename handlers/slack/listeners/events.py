"""Events: the App Home tab opened, and the preference buttons on it."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.deps import relais
from handlers.slack.home import publish_home
from handlers.slack.identity import acting_member, team_and_user
from models import Member


async def handle_app_home_opened(
    event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Publish the member's Home. Slack may deliver the event again (retries): publishing twice is fine."""
    if event.get("tab") != "home":
        return
    await publish_home(relais(context), client, team_id=str(context.team_id), user_id=str(event["user"]))


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
    _, known = await acting_member(deps, client, team_id, user_id, refresh=False)
    async with deps.sessions() as session:
        member = await session.get_one(Member, known.id)
        member.updated_at = deps.clock.now()
        match action["action_id"]:
            case "home_nudges_off":
                member.opted_out = True
            case "home_nudges_on":
                member.opted_out = False
                member.paused_until = None
            case "home_lang_en" | "home_lang_fr":
                member.language = action["action_id"].removeprefix("home_lang_")
        await session.commit()
    deps.cache.forget_member(team_id, user_id)
    await publish_home(deps, client, team_id=team_id, user_id=user_id)
