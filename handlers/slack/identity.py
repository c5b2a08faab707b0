"""Who is acting, from any Slack payload: the ids Slack's payloads carry, as the core's one look-up
(`bot.flows.acting`) names them (`Who`), the member they name (`caller_of`), and the id a button
carries."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.flows.caller import Caller, FormRefusals
from bot.services.hotpath import AckDeadline
from bot.services.inputs import parse_id
from handlers.slack.deps import relais
from handlers.slack.directory import SlackDirectory
from models import Platform


def team_and_user(body: dict[str, Any]) -> tuple[str, str]:
    """The workspace is where the action happened (`team.id`), not the user's home team, which differs
    for people from other organisations in shared channels."""
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return str(team), str(user["id"])


def who(team_id: str, user_id: str) -> Who:
    return Who(Platform.SLACK, team_id, user_id)


def who_sent(body: dict[str, Any]) -> Who:
    return who(*team_and_user(body))


async def caller_of(
    context: AsyncBoltContext, client: AsyncWebClient, body: dict[str, Any], *, refresh: bool = True
) -> tuple[Relais, Caller]:
    """The core, and the member who sent `body` as the core's one look-up finds them (Slack's directory
    asked for a stale profile; `refresh=False` before an ack): where a listener that acts for the
    clicking member starts."""
    core = relais(context)
    return core, await acting.caller(core, SlackDirectory(client), who_sent(body), refresh=refresh)


async def submitter_of(
    context: AsyncBoltContext,
    client: AsyncWebClient,
    body: dict[str, Any],
    deadline: AckDeadline,
    *,
    field: str,
) -> tuple[Relais, Caller | FormRefusals]:
    """The core, and who submitted a form (`bot.flows.acting.form_submitter`: within what is left before
    the ack, else the form's refusal under `field`)."""
    core = relais(context)
    return core, await acting.form_submitter(
        core, SlackDirectory(client), who_sent(body), deadline, field=field
    )


def button_id(action: dict[str, Any]) -> int | None:
    """The id a button carries ("12" or "12:x"): a post or a suggestion; None for a forged or stale value."""
    head = str(action.get("value") or "").split(":", 1)[0]
    return parse_id(head)  # the one reader of ids, typed or carried: ASCII digits, within BIGINT
