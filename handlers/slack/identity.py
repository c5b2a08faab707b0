"""Who is acting, from any Slack payload: the ids Slack's payloads carry, as the core's one look-up
(`bot.flows.acting`) names them (`Who`), the member they name (`caller_of`), and the id a button
carries."""

from __future__ import annotations

from typing import Any, Final

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

# Events about the installation itself, not about a workspace's people: their listeners act on the ids
# Bolt authorized (an organisation's name no team), never on a workspace named in the payload.
INSTALLATION_EVENTS: Final = frozenset(
    {"app_uninstalled", "tokens_revoked", "team_access_granted", "team_access_revoked"}
)


def acting_team(body: dict[str, Any]) -> str | None:
    """The workspace a request acts in: the one reader of it, so that the workspace the installs
    middleware checks against the installation (`handlers.slack.listeners.installs`) is the one every
    listener then acts in (`team_and_user`, `who_sent`, the error handler's language).

    - A slash command: its `team_id` (the only place a command names its workspace).
    - A click, a form, a shortcut: where it happened, `team.id` (not the user's home team, which differs
      for people from other organisations in shared channels); a form's `view.app_installed_team_id`
      first when it has one (opened through a Slack Connect channel, submitted from the other
      organisation: its `team` is then the user's own); an org-wide installation's payloads may carry
      `team: null`, then the form's `view.team_id`, else the user's `team_id`. Never the payload's
      top-level `team_id`, which Bolt authorizes by when `team` is null but no listener reads.
    - An event: the workspace it happened in, the envelope's `team_id` (an org-wide installation's events
      name the workspace there only, their `authorizations` naming no team), else the event's own
      (`view.team_id`, `team`); None for an event about the installation itself (`INSTALLATION_EVENTS`).

    None when the request names no workspace: refused, but for installation events."""
    event = body.get("event")
    if isinstance(event, dict):
        if event.get("type") in INSTALLATION_EVENTS:
            return None
        view = event.get("view")
        named = (
            body.get("team_id"),
            view.get("team_id") if isinstance(view, dict) else None,
            event.get("team"),
        )
        return next((str(team) for team in named if isinstance(team, str) and team), None)
    if "command" in body:
        return _id(body.get("team_id"))
    team, user, view = body.get("team"), body.get("user"), body.get("view")
    if isinstance(view, dict) and _id(view.get("app_installed_team_id")):
        # A form opened through a Slack Connect channel and submitted from the other organisation: its
        # `team` is the user's own workspace, this is where Relais is installed (Bolt's own rule).
        return _id(view.get("app_installed_team_id"))
    if isinstance(team, dict):
        return _id(team.get("id"))
    if isinstance(view, dict) and _id(view.get("team_id")):
        return _id(view.get("team_id"))
    return _id(user.get("team_id")) if isinstance(user, dict) else None


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def team_and_user(body: dict[str, Any]) -> tuple[str, str]:
    """The workspace a request acts in (`acting_team`) and who sent it (a command's `user_id`, else the
    payload's `user.id`). The payload's shape (`handlers.slack.shapes`) makes both present; a request
    naming neither raises (answered by the error handler), never acts in a workspace called "None"."""
    team = acting_team(body)
    user = body.get("user_id") if "command" in body else (body.get("user") or {}).get("id")
    if team is None or not isinstance(user, str) or not user:
        raise ValueError("a Slack request names no team or no user")
    return team, user


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
