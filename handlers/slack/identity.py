"""Who is acting, from any Slack payload: the ids Slack's payloads carry, as the core's one look-up
(`bot.flows.acting`) names them (`Who`), and the id a button carries."""

from __future__ import annotations

from typing import Any

from bot.flows.acting import Who
from bot.services.inputs import parse_id
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


def button_id(action: dict[str, Any]) -> int | None:
    """The id a button carries ("12" or "12:x"): a post or a suggestion; None for a forged or stale value."""
    head = str(action.get("value") or "").split(":", 1)[0]
    return parse_id(head)  # the one reader of ids, typed or carried: ASCII digits, within BIGINT
