"""Publishing a member's App Home (on app_home_opened, and after they change a preference there): the
core's home (`bot.flows.home`) as Block Kit."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.flows import acting, home
from handlers.slack.blocks.home import build_home
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import who


async def publish_home(deps: Relais, client: AsyncWebClient, *, team_id: str, user_id: str) -> None:
    found = await acting.caller(deps, SlackDirectory(client), who(team_id, user_id))
    await client.views_publish(user_id=user_id, view=build_home(await home.home_parts(deps, found)))
