"""Erasing one's own data, whatever the chat platform: `/relais forget-me` asks, the confirm button erases
the member who clicks (`bot.services.erasure`), never anyone a button could name."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from bot.core import Relais
from bot.flows import acting
from bot.flows.acting import Who
from bot.flows.invocation import Invocation
from bot.i18n import parse_language
from bot.messages import Message
from bot.messages import erasure as erasure_messages
from bot.messages.commands import say
from bot.messages.erasure import Question
from bot.services import erasure

# How long the confirm button of a question stays good: a card left in a chat is not a standing order.
QUESTION_TTL: Final = timedelta(minutes=15)
# A question's time may run a little ahead of the clock of the process the click reaches.
CLOCK_SKEW: Final = timedelta(minutes=1)


async def forget_me(run: Invocation) -> Message:
    """`forget-me`: what would be erased and what kept, with the confirm and cancel buttons, naming the
    member row asked and when (`Question`)."""
    question = Question(run.lang, run.caller.member.id, run.core.clock.now())
    return erasure_messages.ask(run.lang, question)


def language_carried(core: Relais, who: Who, value: str) -> str:
    """The answer's language: the one the question was asked in (what the buttons carry; forging it
    changes only the answer's language), else the one this process last saw the person use."""
    return parse_language(value.partition(":")[0]) or acting.cached_language(core, who)


def _current(question: Question | None, target: erasure.Target, now: datetime) -> bool:
    """Whether the button answers a question asked of the clicker's current row, recently."""
    return (
        question is not None
        and question.member_id == target.member_id
        and now - QUESTION_TTL <= question.asked_at <= now + CLOCK_SKEW
    )


async def confirm(
    core: Relais, who: Who, value: str, *, files: erasure.DeletesFiles | None = None
) -> Message:
    """The Erase my data button clicked by `who` (the ids the platform's signed request names): their
    data is erased, and the files Relais put in their private chat deleted through `files` (the
    platform's, where it sends files). The member is looked up without being created: a second click,
    or one after an erasure by an admin, finds nobody and changes nothing."""
    lang = language_carried(core, who, value)
    async with core.sessions() as session:
        target = await erasure.find_target(
            session, platform=who.platform, workspace=who.workspace, member=who.member
        )
        elsewhere = await erasure.same_person_elsewhere(session, target) if target is not None else []
    if target is None:
        return say(lang, "forget_me_nothing")
    if not _current(Question.parse(value), target, core.clock.now()):
        return say(lang, "forget_me_expired")  # nothing changed: they may ask again
    erased = await erasure.erase_member(
        core.sessions, target, cipher=core.cipher, clients=core.social, now=core.clock.now(), files=files
    )
    for other in elsewhere:  # the same person in their Grid org's other workspaces
        await erasure.erase_member(
            core.sessions, other, cipher=core.cipher, clients=core.social, now=core.clock.now(), files=files
        )
    acting.forget(core, who)  # this process no longer maps the person to the erased row
    return say(lang, "forget_me_done" if erased is not None else "forget_me_nothing")


def cancel(core: Relais, who: Who, value: str) -> Message:
    return say(language_carried(core, who, value), "forget_me_cancelled")
