"""With installs (SLACK_STATE_SECRET): the app uninstalled or its bot token revoked stops the workspace
(`bot.services.installs.Installs.uninstall`: no message sent, schedules skipped, pending messages
cancelled; installing again brings it back); every request, events included, acts only in a workspace
its installation serves; and a workspace first met through its Enterprise Grid organisation's
installation (by a command, a click or an event) has its organisation recorded."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.services.installs import Installs
from handlers.slack.identity import INSTALLATION_EVENTS, acting_team
from handlers.slack.installations import not_installed_message

logger = logging.getLogger(__name__)


def register_installs(app: AsyncApp, installs: Installs) -> None:
    async def authorized_workspace(
        context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        """Runs after Bolt's authorize (only requests of installed workspaces get here): the workspace a
        listener acts on (`acting_team`, the one reader the listeners use too: a command's or a click's
        team, an event's workspace) must be the one Bolt found the installation for (a modal's
        `view.app_installed_team_id`, an event's `authorizations`, else a payload's top-level
        `team_id`), or be served by the organisation's org-wide installation that serves the request
        (`Installs.serves`, which records the workspace's organisation). A request naming no workspace
        is refused, but an event about the installation itself (`INSTALLATION_EVENTS`). Anything else is
        refused as from a workspace Relais is not installed in; nothing is read or written."""
        acting, enterprise = acting_team(body), context.enterprise_id
        if acting is None:
            if _installation_event(body):  # its listener reads Bolt's own ids (an org's names no team)
                await next()
                return None
            return await _refuse(context, "a request names no team")
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


def _installation_event(body: dict[str, Any]) -> bool:
    """An event about the installation itself (`INSTALLATION_EVENTS`), the only requests that may name
    no workspace: an organisation's own (`team_access_revoked`, …) carry no `team_id` at all."""
    event = body.get("event")
    return isinstance(event, dict) and event.get("type") in INSTALLATION_EVENTS


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
