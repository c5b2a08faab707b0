"""Who sent a Teams activity, as the core names them, and the directory Teams gives: the activity itself.

Teams has no user directory Relais asks while it works: each message and invoke carries the sender's name,
locale and time zone (`clientInfo`). So before a flow runs, the sender is recorded through the core
(`bot.flows.membership.spoke`: their profile, the way to write to them, and the channel the activity came
from), and the flow's look-up of who is acting finds that profile fresh; `ActivityDirectory` answers the
same profile should a flow ask again.
"""

from __future__ import annotations

from dataclasses import dataclass

from microsoft_agents.activity import Activity

from bot.core import Relais
from bot.flows import membership
from bot.flows.acting import Who
from bot.flows.membership import Place
from bot.services.members import Profile
from handlers.teams.membership import PLATFORM, conversation_of, person_of, reference, tenant_of


class ActivityDirectory:
    """The core's `Directory` for one turn: the sender's profile as the activity gave it (and the admin
    right Relais keeps for them); nobody else is known."""

    def __init__(self, user_id: str, profile: Profile) -> None:
        self._user_id = user_id
        self._profile = profile

    async def profile(self, user_id: str) -> Profile | None:
        if user_id != self._user_id:
            raise LookupError("Teams tells Relais about the sender of an activity only")
        return self._profile


@dataclass(frozen=True)
class Sender:
    """Whoever sent the activity (`who`), the directory of this turn, and the team's channel the activity
    came from (None in a 1:1 or group chat)."""

    who: Who
    directory: ActivityDirectory
    channel: str | None


def in_channel(activity: Activity) -> bool:
    return activity.conversation is not None and activity.conversation.conversation_type == "channel"


async def sender_of(core: Relais, activity: Activity) -> Sender | None:
    """The sender, recorded through the core with what the activity says about them and where it came
    from; None for an activity without a tenant or from someone without an Entra object id (not a
    person of the tenant: a guest of another organisation, a bot)."""
    tenant = tenant_of(activity)
    account = activity.from_property
    if tenant is None or activity.conversation is None or account is None:
        return None
    person = person_of(activity, account)
    if person is None:
        return None
    channel = conversation_of(activity) if in_channel(activity) else None
    place = Place(key=channel, reference=reference(activity, None), channel=True) if channel else None
    profile = await membership.spoke(core, platform=PLATFORM, workspace=tenant, person=person, place=place)
    return Sender(
        who=Who(PLATFORM, tenant, person.external_id),
        directory=ActivityDirectory(person.external_id, profile),
        channel=channel,
    )
