"""Who is acting, from any Slack payload: the ids Slack's payloads carry, turned into calls to the core's
one look-up (`bot.flows.acting`) with Slack's directory (users.info)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.services.hotpath import AckDeadline
from bot.services.inputs import parse_id
from handlers.slack.directory import SlackDirectory
from models import Member, Platform, Workspace


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


def button_id(action: dict[str, Any]) -> int | None:
    """The id a button carries ("12" or "12:x"): a post or a suggestion; None for a forged or stale value."""
    head = str(action.get("value") or "").split(":", 1)[0]
    return parse_id(head)  # the one reader of ids, typed or carried: ASCII digits, within BIGINT


async def identify_before_ack(
    deps: Relais, client: AsyncWebClient, body: dict[str, Any], deadline: AckDeadline
) -> tuple[Workspace, Member, str, bool] | None:
    """(workspace, member, language, is admin) of whoever sent `body` (cached profile) within what is
    left before the ack; None when it failed or is still waiting for the database
    (`bot.flows.acting.caller_before_ack`)."""
    found = await acting.caller_before_ack(deps, SlackDirectory(client), who_sent(body), deadline)
    return None if found is None else (found.workspace, found.member, found.lang, found.admin)


def cached_language(deps: Relais, body: dict[str, Any]) -> str:
    """The member's language as this process last saw it (English for someone it never saw), for
    answers that cannot wait for the database."""
    try:
        sender = who_sent(body)
    except (KeyError, TypeError):
        return "en"
    return acting.cached_language(deps, sender)
