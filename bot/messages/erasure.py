"""`/relais forget-me`: the question before an erasure, with its buttons. Plain data in, neutral messages
out (`bot.messages.model`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bot.messages.model import Action, Actions, Message, Section, text

FORGET_CONFIRM: Final = "forget_me_confirm"
FORGET_CANCEL: Final = "forget_me_cancel"
ERASURE_ACTIONS: Final = frozenset({FORGET_CONFIRM, FORGET_CANCEL})


@dataclass(frozen=True)
class Question:
    """What the buttons carry: the answer's language, and which member row was asked, and when. The
    member erased is always whoever clicks; the row and time only let `bot.flows.erasure.confirm` refuse
    a stale button (a card left in a chat, or one shown to the person before an erasure and a return as
    a new member). Forging them can only make the clicker's own erasure happen or be refused."""

    lang: str
    member_id: int
    asked_at: datetime

    def value(self) -> str:
        return f"{self.lang}:{self.member_id}:{int(self.asked_at.timestamp())}"

    @staticmethod
    def parse(value: str) -> Question | None:
        """The question a button's value names; None for anything else (an older button: only a language)."""
        lang, _, rest = value.partition(":")
        member, _, asked = rest.partition(":")
        if not (member.isdigit() and asked.isdigit()):
            return None
        try:
            asked_at = datetime.fromtimestamp(int(asked), UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return Question(lang, int(member), asked_at)


def ask(lang: str, question: Question) -> Message:
    """What an erasure takes away and what it keeps, with a danger button to go ahead and one to cancel,
    both carrying `question`."""
    title, erased, kept = (
        text(lang, key) for key in ("forget_me_title", "forget_me_erased", "forget_me_kept")
    )
    return Message(
        title,
        (
            Section(title),
            Section(erased),
            Section(kept),
            Actions(
                (
                    Action(
                        FORGET_CONFIRM,
                        text(lang, "forget_me_confirm"),
                        value=question.value(),
                        style="danger",
                    ),
                    Action(FORGET_CANCEL, text(lang, "forget_me_cancel"), value=question.value()),
                ),
                id="forget_me",
            ),
        ),
    )
