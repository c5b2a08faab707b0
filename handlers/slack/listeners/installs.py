"""With installs (SLACK_STATE_SECRET): the app uninstalled or its bot token revoked stops the workspace
(`bot.services.installs.Installs.uninstall`: no message sent, schedules skipped, pending messages
cancelled; installing again brings it back); every request, events included, acts only in a workspace
its installation serves; and a workspace first met through its Enterprise Grid organisation's
installation (by a command, a click or an event) has its organisation recorded."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.services.installs import Installs
from handlers.slack.installations import not_installed_message

logger = logging.getLogger(__name__)

# Events about the installation itself, not about a workspace's people: their listeners act on the ids
# Bolt authorized (an organisation's name no team), never on a workspace named in the payload.
INSTALLATION_EVENTS: Final = frozenset(
    {"app_uninstalled", "tokens_revoked", "team_access_granted", "team_access_revoked"}
)


def register_installs(app: AsyncApp, installs: Installs) -> None:
    async def authorized_workspace(
        context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        """Runs after Bolt's authorize (only requests of installed workspaces get here): the workspace a
        listener acts on (`acting_team`: a command's or a click's team, an event's workspace) must be
        the one Bolt found the installation for (a modal's `view.app_installed_team_id`, an event's
        `authorizations`), or be served by the organisation's org-wide installation that serves the
        request (`Installs.serves`, which records the workspace's organisation). Anything else is
        refused as from a workspace Relais is not installed in; nothing is read or written."""
        acting, enterprise = acting_team(body), context.enterprise_id
        if acting is None:
            if not isinstance(body.get("event"), dict):  # a command or a click always names its workspace
                return await _refuse(context, "a request names no team")
            await next()  # an event about the installation itself (its listener reads Bolt's own ids)
            return None
        if context.is_enterprise_install and enterprise:
            # An organisation's own id is no workspace of it (an org-level payload): nothing to act on.
            if acting == enterprise or not await installs.serves(team_id=acting, enterprise_id=enterprise):
                return await _refuse(context, f"team {acting} is not served by organisation {enterprise}")
            await next()
            return None
        if acting != context.team_id:
            return await _refuse(context, f"team {acting} acts with the installation of {context.team_id}")
        await next()
        return None

    async def handle_app_uninstalled(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await _stop(installs, context, body, "uninstalled")

    async def handle_tokens_revoked(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Only the bot's tokens matter: Relais keeps no user token."""
        if (event.get("tokens") or {}).get("bot"):
            await _stop(installs, context, body, "bot token revoked")

    app.middleware(authorized_workspace)

    async def handle_team_access(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Enterprise Grid: the org-wide installation lost or gained some of the organisation's
        workspaces (`event.team_ids`): those stop as by an uninstall, or are served again."""
        teams = [str(team) for team in event.get("team_ids") or [] if isinstance(team, str) and team]
        enterprise = context.enterprise_id
        if not teams or not enterprise:
            return
        granted = event.get("type") == "team_access_granted"
        changed = await installs.set_team_access(enterprise_id=enterprise, team_ids=teams, granted=granted)
        logger.info("Slack %s (enterprise %s): %d workspace(s)", event.get("type"), enterprise, changed)

    app.event("app_uninstalled")(handle_app_uninstalled)
    app.event("team_access_revoked")(handle_team_access)
    app.event("team_access_granted")(handle_team_access)
    app.event("tokens_revoked")(handle_tokens_revoked)


async def _stop(installs: Installs, context: AsyncBoltContext, body: dict[str, Any], why: str) -> None:
    """Slack may send the event again (retries): stopping twice changes nothing, and an event older than
    the installation (a retry, up to minutes later, of one sent before the app was installed again) stops
    nothing."""
    sent = body.get("event_time")
    if isinstance(sent, int | float):
        current = await installs.find(
            enterprise_id=context.enterprise_id,
            team_id=context.team_id,
            is_enterprise_install=bool(context.is_enterprise_install),
            fresh=True,
        )
        installed = current.installed_at if current is not None else None
        if installed is not None and _aware(installed).timestamp() > sent:
            logger.info(
                "Slack app %s event older than the installation of team %s: ignored", why, context.team_id
            )
            return
    stopped = await installs.uninstall(
        enterprise_id=context.enterprise_id,
        team_id=context.team_id,
        # As slack_sdk's `async_delete_bot`: an event without team is the organisation's.
        org_wide=bool(context.is_enterprise_install)
        or (context.team_id is None and context.enterprise_id is not None),
    )
    logger.info(
        "Slack app %s (team %s, enterprise %s): %d workspace(s) stopped",
        why,
        context.team_id,
        context.enterprise_id,
        stopped,
    )


def acting_team(body: dict[str, Any]) -> str | None:
    """The team a listener acts on, as `handlers.slack.identity` reads it (an action's or a modal's
    `team.id`, a command's `team_id`, else the user's team). For an event, the workspace it happened in:
    the envelope's `team_id` (an org-wide installation's events name the workspace there only, their
    `authorizations` naming no team), else the event's own (`view.team_id`, `team`); None for an event
    about the installation itself (`INSTALLATION_EVENTS`) or one naming no team."""
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
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    if isinstance(body.get("team_id"), str) and body["team_id"]:
        return str(body["team_id"])
    user = body.get("user")
    return str(user["team_id"]) if isinstance(user, dict) and user.get("team_id") else None


async def _refuse(context: AsyncBoltContext, why: str) -> BoltResponse:
    """As Bolt answers a workspace without installation: told on the response URL when there is one."""
    logger.warning("Slack request refused: %s", why)
    respond = context.respond
    if context.response_url is not None and respond is not None:
        await respond(not_installed_message())
        return BoltResponse(status=200, body="")
    return BoltResponse(status=200, body=not_installed_message())


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
