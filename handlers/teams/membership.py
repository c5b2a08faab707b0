"""Installation and membership activities, translated for the core (`bot.flows.membership`).

Teams says Relais was installed with `installationUpdate` (action `add`), and with `conversationUpdate`
naming the bot among `membersAdded` (clients differ in which they send; the core welcomes once per place
either way); it says people joined or left a team Relais is in with `conversationUpdate`. The tenant is
the workspace; a person is their Microsoft Entra object id (`aadObjectId`, stable across the tenant's
teams and chats), with the name, locale and time zone the activity gives (its `clientInfo` entity), and
the conversation reference to write to them first. A team's channel is its conversation id without a
thread (`;messageid=…`). Installed in a team, Relais lists the team's people (Teams names only the bot
among those added) on each install activity, so that reminders and the leaderboard reach everyone from
the start; the installer's welcome goes through the outbox, sent right after the turn.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import aiohttp
from microsoft_agents.activity import Activity, ChannelAccount
from microsoft_agents.hosting.core import ConnectorClientBase, TurnContext

from bot.core import Relais
from bot.flows import membership
from bot.flows.membership import Person, Place

logger = logging.getLogger(__name__)

PLATFORM: Final = "teams"
INSTALL_ACTIONS: Final = frozenset({"add", "add-upgrade"})
ROSTER_PAGE_SIZE: Final = 500  # Teams' largest page
ROSTER_PAGES: Final = 20


async def on_installation_update(core: Relais, context: TurnContext) -> bool:
    """Returns whether something was queued to send (the installer's welcome)."""
    activity = context.activity
    if activity.action not in INSTALL_ACTIONS:
        logger.info("Teams app %s in tenant %s", activity.action or "changed", tenant_of(activity) or "-")
        return False
    return await _installed(core, context)


async def on_conversation_update(core: Relais, context: TurnContext) -> bool:
    """Returns whether something was queued to send (the installer's welcome)."""
    activity = context.activity
    tenant = tenant_of(activity)
    if tenant is None:
        logger.warning("Teams conversationUpdate without a tenant: ignored")
        return False
    bot_id = activity.recipient.id if activity.recipient else None
    added = [member for member in activity.members_added or () if member.id != bot_id]
    welcomed = False
    if any(member.id == bot_id for member in activity.members_added or ()):
        welcomed = await _installed(core, context)
    people = [person for member in added if (person := person_of(activity, member)) is not None]
    if people:
        await membership.joined(core, platform=PLATFORM, workspace=tenant, people=people)
    gone = [
        member.aad_object_id
        for member in activity.members_removed or ()
        if member.id != bot_id and member.aad_object_id
    ]
    if gone:
        await membership.left(core, platform=PLATFORM, workspace=tenant, people=gone)
    return welcomed


async def _installed(core: Relais, context: TurnContext) -> bool:
    """Relais installed where `context`'s activity says: the place (the channel the installer picked, else
    the conversation the activity comes from) recorded with the installer, the welcome queued (the
    outbox sends it after the turn and retries it when Teams refuses it for a while), then, in a team, its
    people listed, on every install activity: a team listed in part (or not at all) the first time is
    listed again when Teams sends the news again. Returns whether a welcome was queued."""
    activity = context.activity
    tenant = tenant_of(activity)
    if tenant is None or activity.conversation is None:
        logger.warning("Teams installation without a tenant or a conversation: ignored")
        return False
    installer = person_of(activity, activity.from_property) if activity.from_property else None
    welcomed = await membership.installed(
        core, platform=PLATFORM, workspace=tenant, installer=installer, place=place_of(activity)
    )
    if activity.conversation.conversation_type == "channel":
        people = [person for member in await _roster(context) if (person := person_of(activity, member))]
        if people:
            await membership.joined(core, platform=PLATFORM, workspace=tenant, people=people)
    return welcomed


def place_of(activity: Activity) -> Place:
    """Where Relais was installed: in a team, the channel the installer picked (`channelData.settings.
    selectedChannel`, which Teams sends with the install; the activity itself comes from the General
    channel), else the conversation the activity comes from."""
    assert activity.conversation is not None
    channel = activity.conversation.conversation_type == "channel"
    selected = _selected_channel(activity) if channel else None
    found = reference(activity, None)
    if selected is not None and selected[0] != conversation_of(activity):
        channel_id, name = selected
        conversation = {**found["conversation"], "id": channel_id}
        conversation.pop("name", None)
        if name or channel_id == team_of(activity):
            conversation["name"] = name or channel_name(activity)
        return Place(
            key=channel_id,
            reference={**found, "conversation": conversation},
            channel=True,
            scope=team_of(activity),
        )
    # One welcome per team, whichever of its channels an install activity names (Teams sends two).
    scope = team_of(activity) if channel else None
    return Place(key=conversation_of(activity), reference=found, channel=channel, scope=scope)


def _selected_channel(activity: Activity) -> tuple[str, str] | None:
    """The channel the installer picked (its id and, when Teams gives it, its name), if any."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    settings = data.get("settings")
    selected = settings.get("selectedChannel") if isinstance(settings, dict) else None
    if not isinstance(selected, dict):
        return None
    channel_id, name = selected.get("id"), selected.get("name")
    if not isinstance(channel_id, str) or not channel_id.startswith("19:") or len(channel_id) > 255:
        return None
    return channel_id.split(";messageid=", 1)[0], name.strip() if isinstance(name, str) else ""


async def _roster(context: TurnContext) -> list[ChannelAccount]:
    """The people of the team Relais was just installed in (Teams names only the bot among those added),
    page by page (at most `ROSTER_PAGES` of `ROSTER_PAGE_SIZE`); whoever could not be listed is met later,
    when they join or write. Outside any transaction: a call to Teams."""
    client = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK's own key
    if client is None:
        return []
    team = team_of(context.activity)
    found: list[ChannelAccount] = []
    token: str | None = None
    try:
        for _ in range(ROSTER_PAGES):
            page = await client.conversations.get_conversation_paged_members(
                team, page_size=ROSTER_PAGE_SIZE, continuation_token=token
            )
            found.extend(page.members or ())
            token = page.continuation_token
            if not token:
                break
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        logger.warning("the team's members could not be listed (%s: %.200r)", type(exc).__name__, str(exc))
    return found


def person_of(activity: Activity, account: ChannelAccount) -> Person | None:
    """The person behind `account` (None without an Entra object id: not someone of the tenant). Locale
    and time zone are the activity's, so only the sender's."""
    if not account.aad_object_id:
        return None
    sender = activity.from_property is not None and activity.from_property.id == account.id
    client = client_info(activity) if sender else {}
    return Person(
        external_id=account.aad_object_id,
        name=account.name or None,
        locale=(activity.locale or client.get("locale")) if sender else None,
        timezone=(client.get("timezone") or activity.local_timezone) if sender else None,
        reference=reference(activity, account),
    )


def tenant_of(activity: Activity) -> str | None:
    """The tenant (Relais's workspace) the activity comes from."""
    if activity.conversation is not None and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    tenant_id = tenant.get("id") if isinstance(tenant, dict) else None
    return tenant_id if isinstance(tenant_id, str) and tenant_id else None


def team_of(activity: Activity) -> str:
    """The team a channel activity comes from (its id), else the conversation."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = data.get("team")
    team_id = team.get("id") if isinstance(team, dict) else None
    return team_id if isinstance(team_id, str) and team_id else conversation_of(activity)


def channel_name(activity: Activity) -> str:
    """The name of the team's channel the activity comes from, when Teams gives it: the channel's own
    name, or for the team's first channel (General: its id is the team's, and Teams gives it no name)
    the team's name; else nothing."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    channel, team = data.get("channel"), data.get("team")
    name = channel.get("name") if isinstance(channel, dict) else None
    if isinstance(name, str) and name.strip():
        return name.strip()
    team_name = team.get("name") if isinstance(team, dict) else None
    if activity.conversation is not None and team_of(activity) == conversation_of(activity):
        return team_name.strip() if isinstance(team_name, str) else ""
    return ""


def conversation_of(activity: Activity) -> str:
    """The conversation's id, a channel's without its thread."""
    assert activity.conversation is not None
    return activity.conversation.id.split(";messageid=", 1)[0]


def client_info(activity: Activity) -> dict[str, Any]:
    """The activity's `clientInfo` entity (locale, country, platform, timezone), or nothing."""
    for entity in activity.entities or ():
        if entity.type == "clientInfo":
            return entity.model_dump(by_alias=True, exclude_none=True)
    return {}


def reference(activity: Activity, user: ChannelAccount | None) -> dict[str, Any]:
    """The Bot Framework conversation reference to write proactively where `activity` came from (a
    channel: not in its thread), to `user` when given: JSON as the SDK writes it."""
    found = activity.get_conversation_reference()
    assert found.conversation is not None
    named = (
        {"name": channel_name(activity) or None} if found.conversation.conversation_type == "channel" else {}
    )
    conversation = found.conversation.model_copy(update={"id": conversation_of(activity), **named})
    # Without the SDK's id of the request (new on each activity): the same place gives the same reference,
    # which Relais then need not write again (`bot.services.conversations.Written`).
    update: dict[str, Any] = {
        "activity_id": None,
        "request_id": None,
        "conversation": conversation,
        "user": user,
    }
    dumped: dict[str, Any] = found.model_copy(update=update).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped
