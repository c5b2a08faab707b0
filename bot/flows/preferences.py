"""A member's preferences, whatever the chat platform: weekly reminders on, off or paused, and their
language; from commands (`pause`, `resume`, `optout`, `lang`) and from the home's buttons."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.i18n import Language
from bot.messages.home import LANGUAGE_ACTIONS, NUDGES_OFF_ACTION, NUDGES_ON_ACTION
from bot.services.members import Directory
from models import Member

MAX_PAUSE_WEEKS: Final = 52


def pause(core: Relais, member: Member, weeks: int) -> datetime:
    """No reminder for `weeks` weeks from now; until when."""
    member.paused_until = core.clock.now() + timedelta(weeks=weeks)
    return member.paused_until


def resume(member: Member) -> None:
    """Reminders back: neither paused nor opted out. The one place this is written."""
    member.paused_until = None
    member.opted_out = False


def opt_out(member: Member) -> None:
    member.opted_out = True


def set_language(core: Relais, member: Member, who: Who, language: Language) -> None:
    """The member's own choice of language; this process forgets what it cached about them. The one
    place this is written."""
    member.language = language
    acting.forget(core, who)


async def home_preference(core: Relais, directory: Directory, who: Who, choice: str) -> None:
    """A preference button on the member's home (`home_nudges_off`, `home_nudges_on`, `home_lang_en`,
    `home_lang_fr`), saved in one short transaction stamped with the injected clock."""
    _, known = await acting.acting(core, directory, who, refresh=False)
    async with core.sessions() as session:
        member = await session.get_one(Member, known.id)
        member.updated_at = core.clock.now()
        if choice == NUDGES_OFF_ACTION:
            opt_out(member)
        elif choice == NUDGES_ON_ACTION:
            resume(member)
        elif choice in LANGUAGE_ACTIONS:
            set_language(core, member, who, LANGUAGE_ACTIONS[choice])
        await session.commit()
    acting.forget(core, who)
